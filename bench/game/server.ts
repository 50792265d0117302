/** Child process of bench/game/run.ts: a game server on loopback (BENCH_HOST) that reports its tick statistics over IPC. */
import { createLogger } from "../../images/runtime/log";
import { gameSettingsSchema } from "../../contracts/settings/game";
import { startGameServer } from "../../images/game/src/server";

async function main(): Promise<void> {
  const settings = gameSettingsSchema.parse(JSON.parse(process.env.BENCH_SETTINGS ?? "{}"));
  // Every bot connects from one address, where real players come from many: the per-client cap
  // (16 by default, images/game/README.md) would refuse all but the first few with 429.
  const game = await startGameServer({
    settings,
    log: createLogger({ role: "game", level: "warn" }),
    port: 0,
    host: process.env.BENCH_HOST ?? "127.0.0.2",
    limits: { perClient: 100_000, perPeer: 100_000 },
  });
  process.send!({ port: game.port });
  // CPU time of the whole server process over the window: on a shared, busy machine wall-clock
  // tick times include waiting for a core; CPU time per tick is the work itself.
  let cpuAt = process.cpuUsage();
  let wallAt = performance.now();
  let ticksAt = 0;
  process.on("message", (m: { stats?: number; mark?: true; stop?: true }) => {
    if (m.mark) {
      cpuAt = process.cpuUsage();
      wallAt = performance.now();
      ticksAt = game.tickStats(1).count;
      process.send!({ marked: true });
    }
    if (m.stats !== undefined) {
      const cpu = process.cpuUsage(cpuAt);
      const wallMs = performance.now() - wallAt;
      const cpuMs = (cpu.user + cpu.system) / 1000;
      process.send!({
        stats: game.tickStats(m.stats),
        rooms: game.rooms.size,
        // Per tick that ran: a loop that falls behind skips ticks (drift-free schedule).
        cpuMsPerTick: cpuMs / Math.max(1, game.tickStats(1).count - ticksAt),
        ticksRun: (game.tickStats(1).count - ticksAt) / (wallMs / (1000 / settings.tickHz)),
        cpuShare: cpuMs / wallMs,
      });
    }
    if (m.stop) void game.close().then(() => process.exit(0));
  });
}

void main();
