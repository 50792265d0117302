/** Entry point of the game image: env, replica config and settings, game server, management, shutdown. */
import { z } from "zod";
import { createLogger, installShutdown, loadConfig, portVar, runtimeEnv, startManagementServer } from "../../runtime";
import { loadReplicaConfig } from "../../runtime/replica";
import { gameSettingsSchema } from "../settings";
import { gameMetrics } from "./metrics";
import { startGameServer } from "./server";
import { Registry } from "prom-client";

const gameEnv = z.object({
  ...runtimeEnv,
  /** The replica config written by the target; its `settings` are the game's settings. */
  SP_CONFIG: z.string().optional(),
  /** HTTP + WebSocket port (the client page at /, the game at /ws). */
  SP_GAME_PORT: portVar(7350),
  SP_REPLICA: z.string().default("game-0"),
});

async function main(): Promise<void> {
  const env = loadConfig(gameEnv);
  const config = loadReplicaConfig(env.SP_CONFIG, gameSettingsSchema);
  const log = createLogger({ role: "game", level: env.SP_LOG_LEVEL, bindings: { replica: env.SP_REPLICA } });
  const registry = new Registry();
  const game = await startGameServer({ settings: config.settings, log, metrics: gameMetrics(registry), port: env.SP_GAME_PORT, host: env.SP_LISTEN });
  const budgetMs = 1000 / config.settings.tickHz;
  const management = await startManagementServer({
    port: env.SP_MGMT_PORT,
    host: process.env.SP_MGMT_ADDRESS ?? "0.0.0.0",
    log,
    registry,
    // Ready while the tick loop runs. Slow ticks show in the metrics (and the details here)
    // but do not fail the health check: restarting a CPU-starved server helps nobody.
    readiness: () => {
      const stats = game.tickStats(200);
      const alive = performance.now() - game.lastTickAt() < 2000;
      return { ready: game.server.listening && alive, details: { rooms: game.rooms.size, tickP99Ms: Number(stats.p99.toFixed(3)), budgetMs } };
    },
  });
  installShutdown({
    log,
    deadlineMs: env.SP_SHUTDOWN_DEADLINE_MS,
    steps: [
      { name: "game server", run: () => game.close() },
      { name: "management server", run: () => management.close() },
    ],
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`game failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
