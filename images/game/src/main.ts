/** Entry point of the game image: its port and settings, the game server, readiness; the rest is images/runtime/bootstrap.ts. */
import { Registry } from "prom-client";
import { portVar, runRole } from "../../runtime";
import { gameSettingsSchema } from "../../../contracts/settings/game";
import { gameMetrics } from "./metrics";
import { startGameServer } from "./server";
import { rolePort } from "../../../contracts/roles";

void runRole({
  name: "game",
  env: {
    /** HTTP + WebSocket port (the client page at /, the game at /ws). */
    SP_GAME_PORT: portVar(rolePort("game", "game")),
  },
  settings: gameSettingsSchema,
  start: async ({ env, config, log }) => {
    const registry = new Registry();
    const game = await startGameServer({ settings: config.settings, log, metrics: gameMetrics(registry), port: env.SP_GAME_PORT, host: env.SP_LISTEN });
    const budgetMs = 1000 / config.settings.tickHz;
    return {
      management: {
        registry,
        // Ready while the tick loop runs. Slow ticks show in the metrics (and the details here)
        // but do not fail the health check: restarting a CPU-starved server helps nobody.
        readiness: () => {
          const stats = game.tickStats(200);
          const alive = performance.now() - game.lastTickAt() < 2000;
          return { ready: game.server.listening && alive, details: { rooms: game.rooms.size, tickP99Ms: Number(stats.p99.toFixed(3)), budgetMs } };
        },
      },
      steps: [{ name: "game server", run: () => game.close() }],
    };
  },
});
