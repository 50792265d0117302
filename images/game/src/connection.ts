/**
 * One WebSocket client and the rules it is held to: message rate (inputs over the limit are
 * rejected, three times the limit closes it), text frames of valid JSON only, the message
 * schema (three malformed messages close it), a join before the deadline. A misbehaving client is closed on its own;
 * nothing it sends can stop the tick or affect other players.
 */
import type { Duplex } from "node:stream";
import type { RawData, WebSocket } from "ws";
import type { Logger } from "../../runtime/log";
import type { GameSettings } from "../../../contracts/settings/game";
import type { Client, Lobby } from "./lobby";
import type { GameMetrics } from "./metrics";
import { clientMessage, CLOSE, type ClientMessage } from "./protocol";

const MAX_STRIKES = 3;

export interface ConnectionContext {
  readonly lobby: Lobby;
  readonly settings: GameSettings;
  readonly log: Logger;
  readonly metrics?: GameMetrics;
  /** A connection that has not joined by then is closed (server.ts CONNECTION_LIMITS). */
  readonly joinDeadlineMs: number;
}

/** Takes a client whose WebSocket upgrade succeeded into the lobby. */
export function accept(ctx: ConnectionContext, ws: WebSocket, socket: Duplex): void {
  const c: Client = { ws, socket, group: 0, synced: false, windowStart: Date.now(), inWindow: 0, strikes: 0 };
  ctx.lobby.clients.add(c);
  ws.on("message", (data, isBinary) => onMessage(ctx, c, data, isBinary));
  // ws closes with 1009 itself for oversized frames and emits an error first.
  ws.on("error", (error) => ctx.log.debug({ err: error }, "client socket error"));
  // Never joining is not playing: such a connection only holds a socket. It is closed at
  // the deadline, and cut a second later if it does not answer the close.
  const deadline = setTimeout(() => {
    if (c.player) return;
    ctx.lobby.close(c, CLOSE.policy, "no join in time");
    setTimeout(() => ws.terminate(), 1000).unref();
  }, ctx.joinDeadlineMs);
  deadline.unref();
  ws.on("close", () => {
    clearTimeout(deadline);
    ctx.lobby.disconnected(c);
  });
}

function onMessage(ctx: ConnectionContext, c: Client, data: RawData, isBinary: boolean): void {
  const { lobby, settings, metrics } = ctx;
  const now = Date.now();
  if (now - c.windowStart >= 1000) {
    c.windowStart = now;
    c.inWindow = 0;
  }
  if (++c.inWindow > settings.maxInputsPerSecond * 3) return lobby.close(c, CLOSE.policy, "flood");
  if (isBinary) return lobby.close(c, CLOSE.unsupportedData, "binary frames are not accepted");
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString());
  } catch {
    return lobby.close(c, CLOSE.invalidPayload, "invalid JSON");
  }
  const parsed = clientMessage.safeParse(raw);
  if (!parsed.success) {
    metrics?.inputs.inc({ result: "malformed" });
    if (++c.strikes >= MAX_STRIKES) return lobby.close(c, CLOSE.policy, "too many malformed messages");
    const issue = parsed.error.issues[0];
    return lobby.send(c.ws, { t: "error", code: "malformed", message: `${issue?.path.join(".") || "message"}: ${issue?.message ?? "invalid"}` });
  }
  handle(ctx, c, parsed.data, now);
}

function handle(ctx: ConnectionContext, c: Client, m: ClientMessage, now: number): void {
  const { lobby, settings, metrics } = ctx;
  switch (m.t) {
    case "ping":
      return lobby.send(c.ws, { t: "pong", id: m.id });
    case "join":
      return lobby.join(c, m, now);
    case "leave":
      if (c.player) lobby.leave(c.player.token);
      return lobby.close(c, 1000, "left");
    case "input": {
      if (!c.player || !c.room) return lobby.send(c.ws, { t: "error", code: "not-joined", message: "send join first" });
      if (c.inWindow > settings.maxInputsPerSecond) {
        metrics?.inputs.inc({ result: "rate" });
        return lobby.send(c.ws, { t: "reject", seq: m.seq, reason: "rate" });
      }
      const result = c.room.applyInput(c.player, m, now);
      metrics?.inputs.inc({ result: result.ok ? "accepted" : result.reason });
      if (!result.ok) lobby.send(c.ws, { t: "reject", seq: m.seq, reason: result.reason, x: Math.round(c.player.x), y: Math.round(c.player.y) });
      return;
    }
  }
}
