/**
 * The game server: one HTTP listener serving the browser client at `/` and `/healthz`
 * (page.ts) and the game over WebSocket at `/ws` (connection.ts: the per-client rules), the
 * lobby of rooms and seats (lobby.ts) and a fixed-rate tick driving every room (tick.ts).
 * A misbehaving client is closed on its own; nothing it sends can stop the tick or affect
 * other players.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import type { Logger } from "../../runtime/log";
import type { GameSettings } from "../../../contracts/settings/game";
import { accept } from "./connection";
import { Lobby } from "./lobby";
import type { GameMetrics } from "./metrics";
import { servePage } from "./page";
import { CLOSE } from "./protocol";
import type { Room } from "./room";
import { TickLoop, type TickStats } from "./tick";

export interface GameServerOptions {
  readonly settings: GameSettings;
  readonly log: Logger;
  readonly metrics?: GameMetrics;
  /** @default 7350 */
  readonly port?: number;
  /** @default "0.0.0.0" */
  readonly host?: string;
}

export interface GameServer {
  readonly server: Server;
  readonly port: number;
  readonly rooms: ReadonlyMap<string, Room>;
  /**
   * Tick durations (ms) of the last `last` ticks (at most 4096), for readiness and benchmarks:
   * the whole tick (p50/p99/max) and its simulation part before the sends (simP50/simP99).
   */
  tickStats(last?: number): TickStats;
  /** When the last tick ran (performance.now() ms); a stalled loop stops the replica being ready. */
  lastTickAt(): number;
  /** Stops accepting, tells every client the server is going away, stops the tick. */
  close(): Promise<void>;
}

export async function startGameServer(options: GameServerOptions): Promise<GameServer> {
  const { settings, log, metrics } = options;
  const lobby = new Lobby(settings, metrics);
  const loop = new TickLoop(lobby, settings, log, metrics);

  const http = createServer((req, res) =>
    servePage({ listening: () => http.listening, lastTickAt: () => loop.lastTickAt, rooms: () => lobby.rooms.size }, req, res),
  );
  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxMessageBytes, perMessageDeflate: false });
  http.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept({ lobby, settings, log, metrics }, ws, socket));
  });

  loop.start();
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 7350, options.host ?? "0.0.0.0", () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  log.info({ port, tickHz: settings.tickHz, roomCap: settings.roomCap }, "game server listening");

  return {
    server: http,
    port,
    rooms: lobby.rooms,
    lastTickAt: () => loop.lastTickAt,
    tickStats: (last) => loop.stats(last),
    async close() {
      loop.stop();
      const { clients } = lobby;
      for (const c of clients) lobby.close(c, CLOSE.goingAway, "server shutting down");
      // Give the close frames a moment to be answered, then cut whatever is left.
      for (let i = 0; i < 20 && clients.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
      for (const c of clients) c.ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
