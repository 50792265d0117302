/**
 * The tick loop: at a fixed, drift-free rate it evicts idle and expired seats, steps every
 * room, and sends each room's delta (serialised and framed once per room) to the synced
 * players of this tick's send group (one group in `snapshotEvery`, taken in turn) — a full
 * snapshot to those that need one. A client too far behind gets nothing until
 * it drains, one not reading at all is closed. Each tick is timed (whole, and simulation only)
 * for readiness, metrics and benchmarks, and its own CPU time is taken beside the wall clock: on
 * a busy host the difference is time spent waiting for a core, not work.
 */
import type { Logger } from "../../runtime/log";
import type { GameSettings } from "../../../contracts/settings/game";
import type { Client, Lobby } from "./lobby";
import type { GameMetrics } from "./metrics";
import { CLOSE, textFrame } from "./protocol";
import type { Room } from "./room";

/** A client whose unsent data exceeds this gets no deltas until it drains (then a full snapshot). */
const LAG_BYTES = 256 * 1024;
/** ... and is closed beyond this: it is not reading at all. */
const DEAD_BYTES = 2 * 1024 * 1024;
const TICK_HISTORY = 4096;

export interface TickStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
  simP50: number;
  simP99: number;
  /** CPU time (user + system, ms) the process spent during the tick: the work without the waits for a core. */
  cpuP50: number;
  cpuP99: number;
}

interface Framed {
  frame: Buffer;
  bytes: number;
}

const framed = (message: unknown): Framed => {
  const payload = Buffer.from(JSON.stringify(message));
  return { frame: textFrame(payload), bytes: payload.length };
};

export class TickLoop {
  private readonly ticks = new Float64Array(TICK_HISTORY);
  /** The simulation part of each tick (eviction, steps, snapshots built and serialised), without the sends. */
  private readonly simTicks = new Float64Array(TICK_HISTORY);
  private readonly cpuTicks = new Float64Array(TICK_HISTORY);
  private tickCount = 0;
  private lastTick = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly lobby: Lobby,
    private readonly settings: GameSettings,
    private readonly log: Logger,
    private readonly metrics: GameMetrics | undefined,
  ) {}

  /** When the last tick ran (performance.now() ms). */
  get lastTickAt(): number {
    return this.lastTick;
  }

  /** Starts ticking; each tick is scheduled against the start time, not the last tick. */
  start(): void {
    const period = 1000 / this.settings.tickHz;
    const epoch = performance.now();
    let n = 0;
    const loop = () => {
      try {
        this.tick();
      } catch (error) {
        this.log.error({ err: error }, "tick failed");
      }
      n = Math.max(n + 1, Math.floor((performance.now() - epoch) / period));
      this.timer = setTimeout(loop, Math.max(0, epoch + n * period - performance.now()));
    };
    this.timer = setTimeout(loop, period);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Tick durations (ms) of the last `last` ticks (at most TICK_HISTORY). */
  stats(last = TICK_HISTORY): TickStats {
    const tickCount = this.tickCount;
    const count = Math.min(tickCount, TICK_HISTORY, last);
    const pick = (from: Float64Array) => {
      const sorted = Array.from({ length: count }, (_, i) => from[(tickCount - 1 - i) % TICK_HISTORY]!).sort((a, b) => a - b);
      return (q: number) => sorted[Math.min(count - 1, Math.floor(q * count))] ?? 0;
    };
    const all = pick(this.ticks);
    const sim = pick(this.simTicks);
    const cpu = pick(this.cpuTicks);
    return { count: tickCount, p50: all(0.5), p99: all(0.99), max: all(1), simP50: sim(0.5), simP99: sim(0.99), cpuP50: cpu(0.5), cpuP99: cpu(0.99) };
  }

  /** One tick: simulate and serialise every room first, then send; each phase is timed. */
  private tick(): void {
    const { lobby, settings, metrics } = this;
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const now = Date.now();
    lobby.evict(now);
    const dt = 1 / settings.tickHz;
    // This tick's send group: a client hears from its room every snapshotEvery ticks, so a tick
    // writes to 1/snapshotEvery of the clients (the writes are most of a tick's work). Counted by
    // ticks run, so a loop that skips ticks still takes the groups in turn.
    const turn = this.tickCount % settings.snapshotEvery;
    const members = new Map<Room, Client[]>();
    for (const c of lobby.clients) if (c.room && c.group === turn) (members.get(c.room) ?? members.set(c.room, []).get(c.room)!).push(c);
    // Each room's delta is built, serialised and framed once and the same bytes go to every
    // synced player of the group; the full snapshot only when one of them needs it. The delta is
    // taken even for a room with none of the group in it, to keep the group's baseline current
    // for a client that joins it later (a full snapshot, then deltas from that same tick on).
    const out: { room: Room; delta: Framed; to: Client[] }[] = [];
    for (const room of lobby.rooms.values()) {
      room.step(dt);
      const delta = room.delta(turn);
      const to = members.get(room);
      if (to) out.push({ room, delta: framed(delta), to });
    }
    const simulated = performance.now();
    let bytes = 0;
    for (const { room, delta, to } of out) {
      let full: Framed | undefined;
      for (const c of to) {
        // A socket the peer reset is no longer writable before ws sees the close: writing to it
        // would make an error (with its stack trace) per client per tick until then.
        if (c.ws.readyState !== c.ws.OPEN || !c.socket.writable) continue;
        const buffered = c.ws.bufferedAmount;
        if (buffered > DEAD_BYTES) {
          lobby.close(c, CLOSE.policy, "not reading");
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
    const cpu = process.cpuUsage(cpuStarted);
    this.lastTick = performance.now();
    const ms = this.lastTick - started;
    const slot = this.tickCount++ % TICK_HISTORY;
    this.ticks[slot] = ms;
    this.simTicks[slot] = simulated - started;
    this.cpuTicks[slot] = (cpu.user + cpu.system) / 1000;
    if (metrics) {
      metrics.bytes.inc(bytes);
      metrics.tick.observe(ms / 1000);
      metrics.rooms.set(lobby.rooms.size);
      let on = 0;
      for (const seat of lobby.seats.values()) if (seat.player.connected) on++;
      metrics.players.set({ state: "connected" }, on);
      metrics.players.set({ state: "disconnected" }, lobby.seats.size - on);
    }
  }
}
