/** Child process of bench/game/run.ts: a game server on 127.0.0.1 that reports its tick statistics over IPC. */
import { createLogger } from "../../images/runtime/log";
import { gameSettingsSchema } from "../../images/game/settings";
import { startGameServer } from "../../images/game/src/server";

async function main(): Promise<void> {
  const settings = gameSettingsSchema.parse(JSON.parse(process.env.BENCH_SETTINGS ?? "{}"));
  const game = await startGameServer({ settings, log: createLogger({ role: "game", level: "warn" }), port: 0, host: "127.0.0.1" });
  process.send!({ port: game.port });
  process.on("message", (m: { stats?: number; stop?: true }) => {
    if (m.stats !== undefined) process.send!({ stats: game.tickStats(m.stats), rooms: game.rooms.size });
    if (m.stop) void game.close().then(() => process.exit(0));
  });
}

void main();
