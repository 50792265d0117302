/**
 * The books of one simulator run: every change of a host's power, a host's supply, a
 * service's state and (when recording) a feed's source is booked here as downtime and outage
 * counts, and — when recording — as timelines (segments) and an event log. The simulator
 * (simulator.ts) decides what happens; this only records it.
 */
import type { PowerFlow } from "./flow";
import type { ServiceIndex } from "./steady";
import type { PowerTopology } from "./topology";
import type { FeedSource, Segment, TimelineEvent } from "./types";

export type FeedSegmentState = { source: FeedSource; loadKw: number; upsCharge: number | null; fuel: number | null };

export interface SimRun {
  readonly horizon: number;
  readonly serviceDowntime: Float64Array;
  readonly serviceOutages: Int32Array;
  readonly hostDowntime: Float64Array;
  /** Time a host's power supplies were dark (the host's own failures not counted). */
  readonly hostSupplyDowntime: Float64Array;
  /** Only when recording. */
  readonly log: TimelineEvent[];
  readonly hostSegments: Segment<{ powered: boolean }>[][];
  readonly serviceSegments: Segment<{ up: boolean; running: number }>[][];
  readonly feedSegments: Segment<FeedSegmentState>[][];
}

/** A feed's source, as the simulator keeps it (an index into SOURCE_NAMES). */
export const SRC_NONE = 0;
export const SRC_UTILITY = 1;
export const SRC_GENERATOR = 2;
export const SRC_UPS = 3;
const SOURCE_NAMES: readonly FeedSource[] = ["none", "utility", "generator", "ups"];

/** The simulator's state that is booked (its own arrays, read at each instant). */
export interface BookedState {
  readonly flow: PowerFlow;
  /** Per service: 1 when up, and its running replicas. */
  readonly up: Uint8Array;
  readonly running: Int32Array;
  /** Per feed: the source (SRC_*), battery charge and fuel (fractions). */
  readonly source: Uint8Array;
  readonly charge: Float64Array;
  readonly fuel: Float64Array;
}

export class Ledger {
  readonly run: SimRun;
  private readonly prevHost: Uint8Array;
  private readonly prevSupply: Uint8Array;
  private readonly prevUp: Uint8Array;
  private readonly prevSource: Int8Array;
  private readonly hostSince: Float64Array;
  private readonly supplySince: Float64Array;
  private readonly serviceSince: Float64Array;

  /** The books of a run from a healthy state (everything powered and up) to `horizon`. */
  constructor(
    private readonly topology: PowerTopology,
    private readonly services: ServiceIndex,
    horizon: number,
    /** Keep timelines and an event log (scenarios), or only totals (Monte-Carlo). */
    private readonly record: boolean,
  ) {
    const nh = topology.hosts.length;
    const ns = services.ids.length;
    this.run = {
      horizon,
      serviceDowntime: new Float64Array(ns),
      serviceOutages: new Int32Array(ns),
      hostDowntime: new Float64Array(nh),
      hostSupplyDowntime: new Float64Array(nh),
      log: [],
      hostSegments: record ? topology.hosts.map(() => []) : [],
      serviceSegments: record ? services.ids.map(() => []) : [],
      feedSegments: record ? topology.feeds.map(() => []) : [],
    };
    this.prevHost = new Uint8Array(nh).fill(1);
    this.prevSupply = new Uint8Array(nh).fill(1);
    this.prevUp = new Uint8Array(ns).fill(1);
    this.prevSource = new Int8Array(topology.feeds.length).fill(-1);
    this.hostSince = new Float64Array(nh);
    this.supplySince = new Float64Array(nh);
    this.serviceSince = new Float64Array(ns);
  }

  log(t: number, text: string): void {
    if (this.record) this.run.log.push({ at: t, text });
  }

  /** Books every change since the last instant, `t`. */
  book(t: number, now: BookedState): void {
    const { topology, services, run, record } = this;
    const { flow } = now;
    for (let h = 0; h < topology.hosts.length; h++) {
      this.bookHost(t, flow, h);
      if (record) pushSegment(run.hostSegments[h]!, t, { powered: flow.hostPowered[h] === 1 }, (a, b) => a.powered === b.powered);
    }
    for (let s = 0; s < services.ids.length; s++) {
      this.bookService(t, now, s);
      if (record)
        pushSegment(run.serviceSegments[s]!, t, { up: now.up[s] === 1, running: now.running[s]! }, (a, b) => a.up === b.up && a.running === b.running);
    }
    if (!record) return;
    topology.feeds.forEach((feed, f) => {
      const src = flow.feedAlive[f] === 1 ? now.source[f]! : SRC_NONE;
      if (src !== this.prevSource[f]) {
        if (this.prevSource[f] !== -1 || src !== SRC_UTILITY)
          this.log(t, `feed ${feed.id} ${src === SRC_NONE ? (flow.feedTripped[f] ? "trips on overload" : "is dark") : `on ${SOURCE_NAMES[src]}`}`);
        this.prevSource[f] = src;
      }
      const state: FeedSegmentState = {
        source: SOURCE_NAMES[src]!,
        loadKw: Math.round(flow.feedLoad[f]! * 1e6) / 1e6,
        upsCharge: feed.ups ? Math.round(now.charge[f]! * 1e6) / 1e6 : null,
        fuel: feed.generator ? Math.round(now.fuel[f]! * 1e6) / 1e6 : null,
      };
      pushSegment(run.feedSegments[f]!, t, state, (a, b) => a.source === b.source && a.loadKw === b.loadKw);
    });
  }

  /**
   * Books the changes at `t` when only `hosts` and `services` can have changed (the
   * simulator's incremental path): the same totals as `book`, without visiting the others.
   * Only without recording — timelines take a segment of every host and service at each instant.
   */
  bookChanged(t: number, now: BookedState, hosts: readonly number[], services: readonly number[]): void {
    if (this.record) throw new Error("bookChanged is for runs that do not record timelines");
    for (const h of hosts) this.bookHost(t, now.flow, h);
    for (const s of services) this.bookService(t, now, s);
  }

  private bookHost(t: number, flow: PowerFlow, h: number): void {
    const { run } = this;
    const powered = flow.hostPowered[h]!;
    if (powered !== this.prevHost[h]) {
      if (powered === 0) this.hostSince[h] = t;
      else run.hostDowntime[h]! += t - this.hostSince[h]!;
      if (this.record) this.log(t, `host ${this.topology.hosts[h]!.id} ${powered ? "has power again" : "loses power"}`);
      this.prevHost[h] = powered;
    }
    const supplied = flow.hostSupplied[h]!;
    if (supplied !== this.prevSupply[h]) {
      if (supplied === 0) this.supplySince[h] = t;
      else run.hostSupplyDowntime[h]! += t - this.supplySince[h]!;
      this.prevSupply[h] = supplied;
    }
  }

  private bookService(t: number, now: BookedState, s: number): void {
    const { run, services } = this;
    const up = now.up[s]!;
    if (up === this.prevUp[s]) return;
    if (up === 0) {
      this.serviceSince[s] = t;
      run.serviceOutages[s]!++;
    } else run.serviceDowntime[s]! += t - this.serviceSince[s]!;
    if (this.record)
      this.log(
        t,
        `service ${services.ids[s]} ${up ? "UP" : "DOWN"} (${now.running[s]}/${services.replicaHosts[s]!.length} replicas, needs ${services.needed[s]})`,
      );
    this.prevUp[s] = up;
  }

  /** Closes open downtimes and segments at the horizon. */
  close(): SimRun {
    const { run } = this;
    const horizon = run.horizon;
    for (let h = 0; h < this.prevHost.length; h++) {
      if (this.prevHost[h] === 0) run.hostDowntime[h]! += horizon - this.hostSince[h]!;
      if (this.prevSupply[h] === 0) run.hostSupplyDowntime[h]! += horizon - this.supplySince[h]!;
    }
    for (let s = 0; s < this.prevUp.length; s++) if (this.prevUp[s] === 0) run.serviceDowntime[s]! += horizon - this.serviceSince[s]!;
    if (!this.record) return run;
    for (const list of [...run.hostSegments, ...run.serviceSegments, ...run.feedSegments] as Segment<unknown>[][]) {
      const last = list[list.length - 1];
      if (last) list[list.length - 1] = { ...last, to: horizon };
    }
    return run;
  }
}

/** Appends a segment starting at t, or keeps the current one when the state is the same. */
function pushSegment<S>(list: Segment<S>[], t: number, state: S, same: (a: S, b: S) => boolean): void {
  const last = list[list.length - 1];
  if (last && same(last.state, state)) return;
  if (last) {
    if (last.from === t) {
      list.pop();
      const prev = list[list.length - 1];
      if (prev && same(prev.state, state)) {
        list[list.length - 1] = { ...prev, to: Infinity };
        return;
      }
    } else list[list.length - 1] = { ...last, to: t };
  }
  list.push({ from: t, to: Infinity, state });
}
