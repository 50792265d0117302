/**
 * The game server: one HTTP listener serving the browser client at `/` and `/healthz`
 * (page.ts) and the game over WebSocket at `/ws` (connection.ts: the per-client rules), the
 * lobby of rooms and seats (lobby.ts) and a fixed-rate tick driving every room (tick.ts).
 * A misbehaving client is closed on its own; nothing it sends can stop the tick or affect
 * other players.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { AddressCap } from "../../runtime/addressCap";
import type { Logger } from "../../runtime/log";
import type { GameSettings } from "../../../contracts/settings/game";
import { accept } from "./connection";
import { Lobby } from "./lobby";
import type { GameMetrics } from "./metrics";
import { servePage } from "./page";
import { CLOSE } from "./protocol";
import type { Room } from "./room";
import { TickLoop, type TickStats } from "./tick";

/**
 * Connection limits (images/game/README.md, "Limits under attack"). Behind the proxy every
 * player arrives from the proxy's address, so the tight cap is per client as the proxy
 * names it (the last X-Forwarded-For entry, which the proxy appends itself) and a wide one
 * per connecting address bounds anyone who sends that header themselves.
 */
export const CONNECTION_LIMITS = {
  /** A connection that has not joined a room by then is closed. */
  joinDeadlineMs: 10_000,
  /** Open WebSockets per client (forwarded address, else the connecting one). */
  perClient: 16,
  /** Open WebSockets per connecting address (a proxy carries many clients). */
  perPeer: 2048,
};
export type ConnectionLimits = typeof CONNECTION_LIMITS;

/** The client the proxy names in the last X-Forwarded-For entry, or undefined. */
function forwardedClient(req: IncomingMessage): string | undefined {
  const header = req.headers["x-forwarded-for"];
  const last = (Array.isArray(header) ? header.join(",") : header)?.split(",").pop()?.trim();
  return last || undefined;
}

export interface GameServerOptions {
  readonly settings: GameSettings;
  /** Overrides of {@link CONNECTION_LIMITS} (tests). */
  readonly limits?: Partial<ConnectionLimits>;
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
   * the whole tick (p50/p99/max), its simulation part before the sends (simP50/simP99) and the
   * CPU time the tick took (cpuP50/cpuP99).
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

  const limits = { ...CONNECTION_LIMITS, ...options.limits };
  const perPeer = new AddressCap(limits.perPeer);
  const perClient = new AddressCap(limits.perClient);
  const http = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) =>
    servePage({ listening: () => http.listening, lastTickAt: () => loop.lastTickAt, rooms: () => lobby.rooms.size }, req, res),
  );
  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxMessageBytes, perMessageDeflate: false });
  http.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const peer = req.socket.remoteAddress;
    const releasePeer = perPeer.acquire(peer);
    const releaseClient = releasePeer && perClient.acquire(forwardedClient(req) ?? peer);
    if (!releasePeer || !releaseClient) {
      releasePeer?.();
      metrics?.closes.inc({ reason: "too many connections" });
      socket.end("HTTP/1.1 429 Too Many Requests\r\nretry-after: 10\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    socket.once("close", () => {
      releasePeer();
      releaseClient();
    });
    wss.handleUpgrade(req, socket, head, (ws) => accept({ lobby, settings, log, metrics, joinDeadlineMs: limits.joinDeadlineMs }, ws, socket));
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
