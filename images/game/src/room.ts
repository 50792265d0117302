/**
 * One arena room: the authoritative simulation, with no sockets and no clock of its own
 * (the server passes time in), so it is tested and benchmarked as plain function calls.
 *
 * Clients never send positions that are trusted: they send a direction (|d| ≤ 1) and the
 * server moves them at most `maxSpeed`. A client may also say where it believes it is;
 * a claim farther away than one tick of movement allows is refused as a teleport.
 */
import type { GameSettings } from "../../../contracts/settings/game";

export interface Player {
  readonly id: number;
  readonly name: string;
  readonly token: string;
  x: number;
  y: number;
  dx: number;
  dy: number;
  score: number;
  lastSeq: number;
  lastInputAt: number;
  connected: boolean;
  disconnectedAt: number;
}

export interface Item {
  readonly id: number;
  x: number;
  y: number;
}

export interface Input {
  readonly seq: number;
  readonly dx: number;
  readonly dy: number;
  /** Where the client believes it is (optional, checked, never applied). */
  readonly x?: number;
  readonly y?: number;
}

export type InputResult = { ok: true } | { ok: false; reason: "speed" | "teleport" | "sequence" };

/** Wire tuples keep snapshots small: [id, x, y, score] and [id, x, y]. */
export type PlayerTuple = [number, number, number, number];
export type ItemTuple = [number, number, number];

export interface Snapshot {
  t: "snap";
  tick: number;
  full?: true;
  players: PlayerTuple[];
  items: ItemTuple[];
  /** Players that appeared since the previous snapshot (all of them in a full one): [id, name]. */
  joined?: [number, string][];
  gone?: number[];
}

/** What one send group's clients were last told: the tuples sent, and who joined or left since. */
interface Baseline {
  sent: Map<number, PlayerTuple>;
  sentItems: Map<number, ItemTuple>;
  joined: [number, string][];
  gone: number[];
}

export const PICKUP_RADIUS = 20;

/** Small deterministic PRNG (mulberry32): rooms are reproducible from their seed in tests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Room {
  readonly players = new Map<number, Player>();
  readonly items: Item[] = [];
  tick = 0;
  private readonly random: () => number;
  /**
   * What each send group was last told: one baseline per group (`snapshotEvery` of them), since
   * the groups hear from the room on different ticks; a delta carries everything that changed
   * since that group's previous one.
   */
  private readonly groups: Baseline[];

  constructor(
    readonly id: string,
    private readonly settings: GameSettings,
    seed = 1,
  ) {
    this.random = rng(seed);
    this.groups = Array.from({ length: settings.snapshotEvery }, () => ({ sent: new Map(), sentItems: new Map(), joined: [], gone: [] }));
    for (let i = 0; i < settings.itemsPerRoom; i++) this.items.push({ id: i, ...this.spot() });
  }

  get full(): boolean {
    return this.players.size >= this.settings.roomCap;
  }

  private spot(): { x: number; y: number } {
    const s = this.settings.arenaSize;
    return { x: Math.round(20 + this.random() * (s - 40)), y: Math.round(20 + this.random() * (s - 40)) };
  }

  addPlayer(id: number, name: string, token: string, now: number): Player {
    const p: Player = { id, name, token, ...this.spot(), dx: 0, dy: 0, score: 0, lastSeq: -1, lastInputAt: now, connected: true, disconnectedAt: 0 };
    this.players.set(id, p);
    for (const g of this.groups) g.joined.push([id, name]);
    return p;
  }

  removePlayer(id: number): void {
    if (!this.players.delete(id)) return;
    for (const g of this.groups) {
      g.sent.delete(id);
      g.joined = g.joined.filter(([j]) => j !== id);
      g.gone.push(id);
    }
  }

  /** Validates one input; only a valid one changes the player's direction. */
  applyInput(p: Player, input: Input, now: number): InputResult {
    if (!Number.isInteger(input.seq) || input.seq <= p.lastSeq) return { ok: false, reason: "sequence" };
    const mag = Math.hypot(input.dx, input.dy);
    if (!Number.isFinite(mag) || mag > 1.0001) return { ok: false, reason: "speed" };
    if (input.x !== undefined && input.y !== undefined) {
      // One tick of movement plus slack for the client seeing the world a tick late, and up to
      // snapshotEvery - 1 ticks older still between its snapshots.
      const reach = (this.settings.maxSpeed / this.settings.tickHz) * (2 + this.settings.snapshotEvery) + 5;
      if (!(Math.hypot(input.x - p.x, input.y - p.y) <= reach)) return { ok: false, reason: "teleport" };
    }
    p.lastSeq = input.seq;
    p.lastInputAt = now;
    p.dx = input.dx;
    p.dy = input.dy;
    return { ok: true };
  }

  /** Advances the world by one tick of `dt` seconds: movement, walls, pickups. */
  step(dt: number): void {
    this.tick++;
    const s = this.settings.arenaSize;
    const stepLen = this.settings.maxSpeed * dt;
    for (const p of this.players.values()) {
      if (!p.connected || (p.dx === 0 && p.dy === 0)) continue;
      p.x = Math.min(s, Math.max(0, p.x + p.dx * stepLen));
      p.y = Math.min(s, Math.max(0, p.y + p.dy * stepLen));
      for (const item of this.items) {
        // Squared distances: no square root (Math.hypot is slow) for every player × item.
        const ix = item.x - p.x;
        const iy = item.y - p.y;
        if (ix * ix + iy * iy <= PICKUP_RADIUS * PICKUP_RADIUS) {
          p.score++;
          Object.assign(item, this.spot());
        }
      }
    }
  }

  private playerTuple(p: Player): PlayerTuple {
    return [p.id, Math.round(p.x), Math.round(p.y), p.score];
  }

  /** Everything, for a client that just joined, reconnected or fell behind. */
  fullSnapshot(): Snapshot {
    const players = [...this.players.values()];
    return {
      t: "snap",
      tick: this.tick,
      full: true,
      players: players.map((p) => this.playerTuple(p)),
      items: this.items.map((i) => [i.id, i.x, i.y]),
      joined: players.map((p) => [p.id, p.name]),
    };
  }

  /**
   * What changed since send group `group`'s previous delta. The same delta goes to every
   * synced client of that group in the room, so it is built (and serialised) once per tick, not
   * once per player.
   */
  delta(group = 0): Snapshot {
    const g = this.groups[group];
    if (!g) throw new RangeError(`send group ${group} of ${this.groups.length}`);
    // Compared as numbers against the last sent tuple: no string key per player per tick.
    const players: PlayerTuple[] = [];
    for (const p of this.players.values()) {
      const x = Math.round(p.x);
      const y = Math.round(p.y);
      const last = g.sent.get(p.id);
      if (last && last[1] === x && last[2] === y && last[3] === p.score) continue;
      const t: PlayerTuple = [p.id, x, y, p.score];
      g.sent.set(p.id, t);
      players.push(t);
    }
    const items: ItemTuple[] = [];
    for (const i of this.items) {
      const last = g.sentItems.get(i.id);
      if (last && last[1] === i.x && last[2] === i.y) continue;
      const t: ItemTuple = [i.id, i.x, i.y];
      g.sentItems.set(i.id, t);
      items.push(t);
    }
    const snap: Snapshot = { t: "snap", tick: this.tick, players, items };
    if (g.joined.length > 0) snap.joined = g.joined;
    if (g.gone.length > 0) snap.gone = g.gone;
    g.joined = [];
    g.gone = [];
    return snap;
  }
}
