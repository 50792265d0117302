/**
 * The lobby: who is connected, which seat (player in a room) each token holds, the rooms
 * themselves, and the moves between them — join (new seat or reconnect by token), leave, and
 * eviction of idle players and of seats whose reconnect grace ran out. Also the two ways the
 * server speaks to one client (a JSON message, a close), both counted in the metrics.
 */
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { GameSettings } from "../../../contracts/settings/game";
import type { GameMetrics } from "./metrics";
import { CLOSE, type ClientMessage } from "./protocol";
import { Room, type Player } from "./room";

export interface Client {
  readonly ws: WebSocket;
  /**
   * The connection under `ws`, for the tick's pre-framed snapshots. Writing whole frames to it
   * between ws's own writes is safe: without permessage-deflate ws writes every frame
   * synchronously (nothing is queued half-written), and its bufferedAmount counts our bytes.
   */
  readonly socket: Duplex;
  player?: Player;
  room?: Room;
  /** The send group (0 … snapshotEvery - 1): the tick writes to this client on that group's ticks only. */
  group: number;
  /** False until the client got a full snapshot (after join, reconnect or falling behind). */
  synced: boolean;
  windowStart: number;
  inWindow: number;
  strikes: number;
}

/** A player's place, kept by its token while the player is away (up to the reconnect grace). */
export interface Seat {
  readonly player: Player;
  readonly room: Room;
  client?: Client;
}

export class Lobby {
  readonly rooms = new Map<string, Room>();
  readonly clients = new Set<Client>();
  /** Seats by token. */
  readonly seats = new Map<string, Seat>();
  private nextPlayerId = 1;
  private nextRoomNumber = 1;
  /** Joins so far: the send groups are dealt round-robin, so each tick writes to about the same number of clients. */
  private joins = 0;

  constructor(
    private readonly settings: GameSettings,
    private readonly metrics: GameMetrics | undefined,
  ) {}

  send(ws: WebSocket, message: unknown): void {
    const data = Buffer.from(JSON.stringify(message));
    this.metrics?.bytes.inc(data.length);
    ws.send(data, { binary: false });
  }

  close(c: Client, code: number, reason: string): void {
    this.metrics?.closes.inc({ reason });
    c.ws.close(code, reason);
  }

  /** The client's connection closed: its seat, if it still holds one, waits for a reconnect. */
  disconnected(c: Client): void {
    this.clients.delete(c);
    if (c.player && c.room) {
      const seat = this.seats.get(c.player.token);
      if (seat?.client === c) {
        seat.client = undefined;
        c.player.connected = false;
        c.player.disconnectedAt = Date.now();
      }
    }
  }

  join(c: Client, m: Extract<ClientMessage, { t: "join" }>, now: number): void {
    if (c.player) return this.send(c.ws, { t: "error", code: "already-joined", message: "this connection already has a player" });
    const seat = m.token ? this.seats.get(m.token) : undefined;
    if (seat) {
      // Reconnect: the seat (position, score) is kept; an older connection is replaced.
      if (seat.client && seat.client !== c) this.close(seat.client, CLOSE.replaced, "replaced by a newer connection");
      seat.client = c;
      seat.player.connected = true;
      seat.player.lastInputAt = now;
      c.player = seat.player;
      c.room = seat.room;
    } else {
      if (m.token) return this.send(c.ws, { t: "error", code: "unknown-token", message: "session expired; join without a token" });
      const room = this.pickRoom(m.room);
      if (!room) return this.close(c, CLOSE.tryAgainLater, "server full");
      const token = randomBytes(18).toString("base64url");
      const player = room.addPlayer(this.nextPlayerId++, m.name, token, now);
      this.seats.set(token, { player, room, client: c });
      c.player = player;
      c.room = room;
    }
    c.synced = false;
    c.group = this.joins++ % this.settings.snapshotEvery;
    this.send(c.ws, {
      t: "welcome",
      id: c.player.id,
      token: c.player.token,
      room: c.room.id,
      tickHz: this.settings.tickHz,
      snapHz: this.settings.tickHz / this.settings.snapshotEvery,
      arena: this.settings.arenaSize,
      resumed: seat !== undefined,
    });
  }

  /** Frees the token's seat; an empty room goes with it. */
  leave(token: string): void {
    const seat = this.seats.get(token);
    if (!seat) return;
    this.seats.delete(token);
    seat.room.removePlayer(seat.player.id);
    if (seat.room.players.size === 0) this.rooms.delete(seat.room.id);
  }

  /** Kicks idle players and frees seats whose players did not come back in time. */
  evict(now: number): void {
    for (const [token, seat] of this.seats) {
      const p = seat.player;
      const idle = p.connected && now - p.lastInputAt > this.settings.idleTimeoutMs;
      const expired = !p.connected && now - p.disconnectedAt > this.settings.reconnectGraceMs;
      if (!idle && !expired) continue;
      if (idle && seat.client) {
        this.send(seat.client.ws, { t: "kick", reason: "idle" });
        this.close(seat.client, CLOSE.idle, "idle");
      }
      this.leave(token);
    }
  }

  /** The room asked for (made if it does not exist and there is room), else any with a free place, else a new one. */
  private pickRoom(wanted: string | undefined): Room | undefined {
    if (wanted) {
      const room = this.rooms.get(wanted);
      if (room && !room.full) return room;
      if (!room && this.rooms.size < this.settings.maxRooms) return this.addRoom(wanted);
    }
    for (const room of this.rooms.values()) if (!room.full) return room;
    if (this.rooms.size >= this.settings.maxRooms) return undefined;
    let id = `r${this.nextRoomNumber++}`;
    while (this.rooms.has(id)) id = `r${this.nextRoomNumber++}`;
    return this.addRoom(id);
  }

  private addRoom(id: string): Room {
    const room = new Room(id, this.settings, this.rooms.size + this.nextRoomNumber * 7919);
    this.rooms.set(id, room);
    return room;
  }
}
