/**
 * The game server: one HTTP listener serving the browser client at `/`, the game over
 * WebSocket at `/ws` and `/healthz` (for the proxy's health checks), a fixed-rate tick
 * driving every room, and the per-client rules (message size, input rate, schema, idle
 * kick, reconnect by token). A misbehaving client is closed on its own; nothing it sends
 * can stop the tick or affect other players.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import type { Logger } from "../../runtime/log";
import type { GameSettings } from "../settings";
import { CLIENT_HTML } from "./client";
import type { GameMetrics } from "./metrics";
import { clientMessage, CLOSE, textFrame, type ClientMessage } from "./protocol";
import { Room, type Player } from "./room";

export interface GameServerOptions {
  readonly settings: GameSettings;
  readonly log: Logger;
  readonly metrics?: GameMetrics;
  /** @default 7350 */
  readonly port?: number;
  /** @default "0.0.0.0" */
  readonly host?: string;
}

interface Client {
  readonly ws: WebSocket;
  /**
   * The connection under `ws`, for the tick's pre-framed snapshots. Writing whole frames to it
   * between ws's own writes is safe: without permessage-deflate ws writes every frame
   * synchronously (nothing is queued half-written), and its bufferedAmount counts our bytes.
   */
  readonly socket: Duplex;
  player?: Player;
  room?: Room;
  /** False until the client got a full snapshot (after join, reconnect or falling behind). */
  synced: boolean;
  windowStart: number;
  inWindow: number;
  strikes: number;
}

/** A client whose unsent data exceeds this gets no deltas until it drains (then a full snapshot). */
const LAG_BYTES = 256 * 1024;
/** ... and is closed beyond this: it is not reading at all. */
const DEAD_BYTES = 2 * 1024 * 1024;
const MAX_STRIKES = 3;
const TICK_HISTORY = 4096;
/** A tick loop that has not run for this long is stalled: `/healthz` answers 503. */
const STALLED_MS = 2000;

export interface GameServer {
  readonly server: Server;
  readonly port: number;
  readonly rooms: ReadonlyMap<string, Room>;
  /**
   * Tick durations (ms) of the last `last` ticks (at most 4096), for readiness and benchmarks:
   * the whole tick (p50/p99/max) and its simulation part before the sends (simP50/simP99).
   */
  tickStats(last?: number): { count: number; p50: number; p99: number; max: number; simP50: number; simP99: number };
  /** When the last tick ran (performance.now() ms); a stalled loop stops the replica being ready. */
  lastTickAt(): number;
  /** Stops accepting, tells every client the server is going away, stops the tick. */
  close(): Promise<void>;
}

export async function startGameServer(options: GameServerOptions): Promise<GameServer> {
  const { settings, log, metrics } = options;
  const rooms = new Map<string, Room>();
  const clients = new Set<Client>();
  const byToken = new Map<string, { player: Player; room: Room; client?: Client }>();
  const ticks = new Float64Array(TICK_HISTORY);
  /** The simulation part of each tick (eviction, steps, snapshots built and serialised), without the sends. */
  const simTicks = new Float64Array(TICK_HISTORY);
  let tickCount = 0;
  let lastTick = performance.now();
  let nextPlayerId = 1;
  let nextRoomNumber = 1;

  const http = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if ((req.method === "GET" || req.method === "HEAD") && (path === "/" || path === "/index.html")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", "x-content-type-options": "nosniff" });
      res.end(req.method === "HEAD" ? undefined : CLIENT_HTML);
      return;
    }
    if ((req.method === "GET" || req.method === "HEAD") && path === "/healthz") {
      // For the proxy's health checks on the game port: a replica whose tick loop stalled is
      // taken out of the pool (the management /healthz says the same to the platform).
      const ageMs = Math.round(performance.now() - lastTick);
      const ok = http.listening && ageMs < STALLED_MS;
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : JSON.stringify({ ok, tickAgeMs: ageMs, rooms: rooms.size }));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxMessageBytes, perMessageDeflate: false });
  http.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, socket));
  });

  const send = (ws: WebSocket, message: unknown) => {
    const data = Buffer.from(JSON.stringify(message));
    metrics?.bytes.inc(data.length);
    ws.send(data, { binary: false });
  };
  const close = (c: Client, code: number, reason: string) => {
    metrics?.closes.inc({ reason });
    c.ws.close(code, reason);
  };

  function accept(ws: WebSocket, socket: Duplex): void {
    const c: Client = { ws, socket, synced: false, windowStart: Date.now(), inWindow: 0, strikes: 0 };
    clients.add(c);
    ws.on("message", (data, isBinary) => onMessage(c, data, isBinary));
    // ws closes with 1009 itself for oversized frames and emits an error first.
    ws.on("error", (error) => log.debug({ err: error }, "client socket error"));
    ws.on("close", () => {
      clients.delete(c);
      if (c.player && c.room) {
        const seat = byToken.get(c.player.token);
        if (seat?.client === c) {
          seat.client = undefined;
          c.player.connected = false;
          c.player.disconnectedAt = Date.now();
        }
      }
    });
  }

  function onMessage(c: Client, data: RawData, isBinary: boolean): void {
    const now = Date.now();
    if (now - c.windowStart >= 1000) {
      c.windowStart = now;
      c.inWindow = 0;
    }
    if (++c.inWindow > settings.maxInputsPerSecond * 3) return close(c, CLOSE.policy, "flood");
    if (isBinary) return close(c, CLOSE.unsupportedData, "binary frames are not accepted");
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString());
    } catch {
      return close(c, CLOSE.invalidPayload, "invalid JSON");
    }
    const parsed = clientMessage.safeParse(raw);
    if (!parsed.success) {
      metrics?.inputs.inc({ result: "malformed" });
      if (++c.strikes >= MAX_STRIKES) return close(c, CLOSE.policy, "too many malformed messages");
      const issue = parsed.error.issues[0];
      return send(c.ws, { t: "error", code: "malformed", message: `${issue?.path.join(".") || "message"}: ${issue?.message ?? "invalid"}` });
    }
    handle(c, parsed.data, now);
  }

  function handle(c: Client, m: ClientMessage, now: number): void {
    switch (m.t) {
      case "ping":
        return send(c.ws, { t: "pong", id: m.id });
      case "join":
        return join(c, m, now);
      case "leave":
        if (c.player) leave(c.player.token);
        return close(c, 1000, "left");
      case "input": {
        if (!c.player || !c.room) return send(c.ws, { t: "error", code: "not-joined", message: "send join first" });
        if (c.inWindow > settings.maxInputsPerSecond) {
          metrics?.inputs.inc({ result: "rate" });
          return send(c.ws, { t: "reject", seq: m.seq, reason: "rate" });
        }
        const result = c.room.applyInput(c.player, m, now);
        metrics?.inputs.inc({ result: result.ok ? "accepted" : result.reason });
        if (!result.ok) send(c.ws, { t: "reject", seq: m.seq, reason: result.reason, x: Math.round(c.player.x), y: Math.round(c.player.y) });
        return;
      }
    }
  }

  function join(c: Client, m: Extract<ClientMessage, { t: "join" }>, now: number): void {
    if (c.player) return send(c.ws, { t: "error", code: "already-joined", message: "this connection already has a player" });
    const seat = m.token ? byToken.get(m.token) : undefined;
    if (seat) {
      // Reconnect: the seat (position, score) is kept; an older connection is replaced.
      if (seat.client && seat.client !== c) close(seat.client, CLOSE.replaced, "replaced by a newer connection");
      seat.client = c;
      seat.player.connected = true;
      seat.player.lastInputAt = now;
      c.player = seat.player;
      c.room = seat.room;
    } else {
      if (m.token) return send(c.ws, { t: "error", code: "unknown-token", message: "session expired; join without a token" });
      const room = pickRoom(m.room);
      if (!room) return close(c, CLOSE.tryAgainLater, "server full");
      const token = randomBytes(18).toString("base64url");
      const player = room.addPlayer(nextPlayerId++, m.name, token, now);
      byToken.set(token, { player, room, client: c });
      c.player = player;
      c.room = room;
    }
    c.synced = false;
    send(c.ws, {
      t: "welcome",
      id: c.player.id,
      token: c.player.token,
      room: c.room.id,
      tickHz: settings.tickHz,
      arena: settings.arenaSize,
      resumed: seat !== undefined,
    });
  }

  function pickRoom(wanted: string | undefined): Room | undefined {
    if (wanted) {
      const room = rooms.get(wanted);
      if (room && !room.full) return room;
      if (!room && rooms.size < settings.maxRooms) return addRoom(wanted);
    }
    for (const room of rooms.values()) if (!room.full) return room;
    if (rooms.size >= settings.maxRooms) return undefined;
    let id = `r${nextRoomNumber++}`;
    while (rooms.has(id)) id = `r${nextRoomNumber++}`;
    return addRoom(id);
  }

  function addRoom(id: string): Room {
    const room = new Room(id, settings, rooms.size + nextRoomNumber * 7919);
    rooms.set(id, room);
    return room;
  }

  function leave(token: string): void {
    const seat = byToken.get(token);
    if (!seat) return;
    byToken.delete(token);
    seat.room.removePlayer(seat.player.id);
    if (seat.room.players.size === 0) rooms.delete(seat.room.id);
  }

  function evict(now: number): void {
    for (const [token, seat] of byToken) {
      const p = seat.player;
      const idle = p.connected && now - p.lastInputAt > settings.idleTimeoutMs;
      const expired = !p.connected && now - p.disconnectedAt > settings.reconnectGraceMs;
      if (!idle && !expired) continue;
      if (idle && seat.client) {
        send(seat.client.ws, { t: "kick", reason: "idle" });
        close(seat.client, CLOSE.idle, "idle");
      }
      leave(token);
    }
  }

  /** One tick: simulate and serialise every room first, then send; each phase is timed. */
  function tick(): void {
    const started = performance.now();
    const now = Date.now();
    evict(now);
    const dt = 1 / settings.tickHz;
    const members = new Map<Room, Client[]>();
    for (const c of clients) if (c.room) (members.get(c.room) ?? members.set(c.room, []).get(c.room)!).push(c);
    // Each room's delta is built, serialised and framed once and the same bytes go to every
    // synced player; the full snapshot only when someone in the room needs one.
    const framed = (message: unknown) => {
      const payload = Buffer.from(JSON.stringify(message));
      return { frame: textFrame(payload), bytes: payload.length };
    };
    const out: { room: Room; delta: { frame: Buffer; bytes: number }; to: Client[] }[] = [];
    for (const room of rooms.values()) {
      room.step(dt);
      out.push({ room, delta: framed(room.delta()), to: members.get(room) ?? [] });
    }
    const simulated = performance.now();
    let bytes = 0;
    for (const { room, delta, to } of out) {
      let full: { frame: Buffer; bytes: number } | undefined;
      for (const c of to) {
        if (c.ws.readyState !== c.ws.OPEN) continue;
        const buffered = c.ws.bufferedAmount;
        if (buffered > DEAD_BYTES) {
          close(c, CLOSE.policy, "not reading");
          continue;
        }
        if (buffered > LAG_BYTES) {
          c.synced = false;
          continue;
        }
        const snap = c.synced ? delta : (full ??= framed(room.fullSnapshot()));
        c.synced = true;
        bytes += snap.bytes;
        c.socket.write(snap.frame);
      }
    }
    lastTick = performance.now();
    const ms = lastTick - started;
    const slot = tickCount++ % TICK_HISTORY;
    ticks[slot] = ms;
    simTicks[slot] = simulated - started;
    if (metrics) {
      metrics.bytes.inc(bytes);
      metrics.tick.observe(ms / 1000);
      metrics.rooms.set(rooms.size);
      let on = 0;
      for (const seat of byToken.values()) if (seat.player.connected) on++;
      metrics.players.set({ state: "connected" }, on);
      metrics.players.set({ state: "disconnected" }, byToken.size - on);
    }
  }

  // Drift-free fixed tick: each tick is scheduled against the start time, not the last tick.
  const period = 1000 / settings.tickHz;
  const epoch = performance.now();
  let n = 0;
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    try {
      tick();
    } catch (error) {
      log.error({ err: error }, "tick failed");
    }
    n = Math.max(n + 1, Math.floor((performance.now() - epoch) / period));
    timer = setTimeout(loop, Math.max(0, epoch + n * period - performance.now()));
  };
  timer = setTimeout(loop, period);

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 7350, options.host ?? "0.0.0.0", () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  log.info({ port, tickHz: settings.tickHz, roomCap: settings.roomCap }, "game server listening");

  return {
    server: http,
    port,
    rooms,
    lastTickAt: () => lastTick,
    tickStats(last = TICK_HISTORY) {
      const count = Math.min(tickCount, TICK_HISTORY, last);
      const pick = (from: Float64Array) => {
        const sorted = Array.from({ length: count }, (_, i) => from[(tickCount - 1 - i) % TICK_HISTORY]!).sort((a, b) => a - b);
        return (q: number) => sorted[Math.min(count - 1, Math.floor(q * count))] ?? 0;
      };
      const all = pick(ticks);
      const sim = pick(simTicks);
      return { count: tickCount, p50: all(0.5), p99: all(0.99), max: all(1), simP50: sim(0.5), simP99: sim(0.99) };
    },
    async close() {
      clearTimeout(timer);
      for (const c of clients) close(c, CLOSE.goingAway, "server shutting down");
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
