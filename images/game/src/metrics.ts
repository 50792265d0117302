/** The game server's Prometheus metrics, registered on the management server's registry. */
import { Counter, Gauge, Registry, Summary } from "prom-client";

export function gameMetrics(registry: Registry) {
  return {
    players: new Gauge({ name: "game_players", help: "Players seated in rooms, by connection state", labelNames: ["state"], registers: [registry] }),
    rooms: new Gauge({ name: "game_rooms", help: "Rooms running", registers: [registry] }),
    tick: new Summary({
      name: "game_tick_duration_seconds",
      help: "Time one simulation tick took (all rooms: step, snapshots, sends), over the last minute",
      percentiles: [0.5, 0.9, 0.99],
      maxAgeSeconds: 60,
      ageBuckets: 6,
      registers: [registry],
    }),
    inputs: new Counter({ name: "game_inputs_total", help: "Client inputs by result", labelNames: ["result"], registers: [registry] }),
    closes: new Counter({ name: "game_disconnects_total", help: "Connections the server closed, by reason", labelNames: ["reason"], registers: [registry] }),
    bytes: new Counter({ name: "game_sent_bytes_total", help: "Payload bytes sent to clients", registers: [registry] }),
  };
}

export type GameMetrics = ReturnType<typeof gameMetrics>;
