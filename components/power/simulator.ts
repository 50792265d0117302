/**
 * Discrete-event simulation of the power chain on a simulated clock (seconds).
 *
 * Between two events every load is constant, so battery charge and fuel change linearly and
 * the next "internal" event (battery empty, fuel gone, generator ready) can be computed
 * exactly instead of stepping the clock. Model, per feed:
 * - The feed is carried by its utility while that is up; else by its generator once it
 *   runs; else by its UPS battery while charge remains; else it is dark.
 * - Utility loss starts the generator: one start attempt, failing with the spec's
 *   `startFailureProbability` (or as the scenario forces). A failed start leaves the
 *   generator off until the utility returns or the generator is repaired (which retries).
 *   A started generator carries load `startDelaySeconds` after the attempt.
 * - UPS battery: at load P on a UPS rated C with full-load runtime T and own losses l·C, the
 *   charge falls at ((P + l·C)/C)^k / T per unit time (k = Peukert exponent, default 1;
 *   l default 0.04: runtime = T·C/(P + l·C)). Above C the UPS cannot carry the feed (it trips). On utility or generator power the battery
 *   recharges linearly in `upsRechargeHours`. A failed UPS bridges nothing.
 * - Fuel: `fuelHours` is the runtime at full rated load; a running generator burns
 *   (idle + (1 − idle)·P/C) / fuelHours of its tank per hour. The tank is refilled when the
 *   utility returns. An empty tank stops the generator.
 * - Which hosts then have power, including overload trips, is `PowerFlow`'s business.
 *
 * What the run records (downtimes, outages, timelines, the event log) is kept by `Ledger`
 * (ledger.ts).
 */
import { PowerFlow } from "./flow";
import { Ledger, SRC_GENERATOR, SRC_NONE, SRC_UPS, SRC_UTILITY, type BookedState, type SimRun } from "./ledger";
import type { ServiceIndex } from "./steady";
import type { PowerTopology } from "./topology";
import type { ReliabilityModel } from "./types";

export type { SimRun } from "./ledger";

export interface SimEvent {
  /** Seconds from the start. */
  readonly at: number;
  /** Component index in the topology. */
  readonly component: number;
  /** true = fails, false = repaired. */
  readonly down: boolean;
}

/** How generator start attempts turn out: forced, or drawn from the spec's probability. */
export type StartMode = "ok" | "fail" | "sample";

export interface SimulatorOptions {
  /** Per feed id or for all feeds (default "sample"). */
  readonly generatorStart?: StartMode | Readonly<Record<string, StartMode>>;
  /**
   * Uniform [0, 1) source for a feed's sampled starts; required when any start is sampled.
   * Per feed, so that adding a feed never changes another feed's draws.
   */
  readonly random?: (feed: number) => number;
  /** Keep timelines and an event log (scenarios), or only totals (Monte-Carlo). */
  readonly record: boolean;
}

const GEN_OFF = 0;
const GEN_STARTING = 1;
const GEN_RUNNING = 2;
const GEN_FAILED_START = 3;
const GEN_EMPTY = 4;

const INT_NONE = 0;
const INT_READY = 1;
const INT_BATTERY = 2;
const INT_FUEL = 3;

/** Times within this many seconds are the same instant. */
const TIME_EPS = 1e-6;

export class Simulator {
  private readonly flow: PowerFlow;
  private readonly down: Uint8Array;
  private readonly sourceKw: Float64Array;
  private readonly source: Uint8Array;
  private readonly gen: Uint8Array;
  private readonly genReadyAt: Float64Array;
  private readonly charge: Float64Array;
  private readonly fuel: Float64Array;
  private readonly nextAt: Float64Array;
  private readonly nextKind: Uint8Array;
  private readonly running: Int32Array;
  private readonly up: Uint8Array;
  private readonly startModes: StartMode[];
  /** component index → host index, or -1. */
  private readonly hostOfComponent: Int32Array;
  /** Hosts whose own state changed since the last evaluation. */
  private readonly pendingHosts: number[] = [];
  /** Services with a replica on a pending host (scratch for the incremental path). */
  private readonly touchedServices: number[] = [];
  /** Something other than a host's own state changed: the power flow must be evaluated in full. */
  private fullNeeded = true;
  /** Nothing booked yet in this run. */
  private firstInstant = true;
  private t = 0;
  /** The arrays the ledger books from. */
  private readonly booked: BookedState;
  private ledger!: Ledger;

  constructor(
    private readonly topology: PowerTopology,
    private readonly services: ServiceIndex,
    private readonly reliability: ReliabilityModel,
    private readonly options: SimulatorOptions,
  ) {
    const nf = topology.feeds.length;
    this.flow = new PowerFlow(topology);
    this.down = new Uint8Array(topology.components.length);
    this.sourceKw = new Float64Array(nf);
    this.source = new Uint8Array(nf);
    this.gen = new Uint8Array(nf);
    this.genReadyAt = new Float64Array(nf);
    this.charge = new Float64Array(nf);
    this.fuel = new Float64Array(nf);
    this.nextAt = new Float64Array(nf);
    this.nextKind = new Uint8Array(nf);
    this.running = new Int32Array(services.ids.length);
    this.up = new Uint8Array(services.ids.length);
    this.hostOfComponent = new Int32Array(topology.components.length).fill(-1);
    topology.hosts.forEach((h, i) => (this.hostOfComponent[h.component] = i));
    const mode = options.generatorStart ?? "sample";
    this.startModes = topology.feeds.map((f) => (typeof mode === "string" ? mode : (mode[f.id] ?? "sample")));
    if (this.startModes.includes("sample") && !options.random && topology.feeds.some((f) => f.generator)) {
      throw new Error("sampled generator starts need a random source (options.random)");
    }
    this.booked = { flow: this.flow, up: this.up, running: this.running, source: this.source, charge: this.charge, fuel: this.fuel };
  }

  /** Plays `events` (sorted by `at`) out from a healthy, fully charged, fully fuelled state. */
  run(horizon: number, events: readonly SimEvent[]): SimRun {
    this.down.fill(0);
    this.gen.fill(GEN_OFF);
    this.charge.fill(1);
    this.fuel.fill(1);
    this.t = 0;
    this.fullNeeded = true;
    this.firstInstant = true;
    this.pendingHosts.length = 0;
    this.ledger = new Ledger(this.topology, this.services, horizon, this.options.record);

    let i = 0;
    for (;;) {
      while (i < events.length && events[i]!.at <= this.t + TIME_EPS) this.apply(events[i++]!);
      this.evaluate();
      this.scheduleInternal();
      let nextInternal = Infinity;
      for (let f = 0; f < this.nextAt.length; f++) if (this.nextKind[f] !== INT_NONE && this.nextAt[f]! < nextInternal) nextInternal = this.nextAt[f]!;
      const nextExternal = i < events.length ? events[i]!.at : Infinity;
      const next = Math.min(nextInternal, nextExternal, horizon);
      this.integrate(next - this.t);
      this.t = next;
      if (next >= horizon) break;
      for (let f = 0; f < this.nextAt.length; f++) if (this.nextKind[f] !== INT_NONE && this.nextAt[f]! <= next + TIME_EPS) this.fireInternal(f);
    }
    return this.ledger.close();
  }

  private log(text: string): void {
    this.ledger.log(this.t, text);
  }

  private apply(e: SimEvent): void {
    const c = this.topology.components[e.component]!;
    if ((this.down[e.component] === 1) === e.down) return;
    this.down[e.component] = e.down ? 1 : 0;
    if (this.options.record) this.log(`${c.kind} ${c.name} ${e.down ? "fails" : "is repaired"}`);
    const host = this.hostOfComponent[e.component]!;
    if (host >= 0) this.pendingHosts.push(host);
    else this.fullNeeded = true;
    const f = this.feedOf(e.component);
    if (f < 0) return;
    const feed = this.topology.feeds[f]!;
    if (e.component === feed.utilityComponent) {
      if (e.down) this.startGenerator(f);
      else {
        if (this.gen[f] === GEN_RUNNING || this.gen[f] === GEN_STARTING) this.log(`generator ${feed.id} stops: utility ${feed.id} is back`);
        this.gen[f] = GEN_OFF;
        this.fuel[f] = 1;
      }
    } else if (e.component === feed.generatorComponent) {
      if (e.down) this.gen[f] = GEN_OFF;
      else if (this.down[feed.utilityComponent] === 1) this.startGenerator(f);
    }
  }

  private feedOf(component: number): number {
    const feeds = this.topology.feeds;
    for (let f = 0; f < feeds.length; f++) {
      const feed = feeds[f]!;
      if (component === feed.utilityComponent || component === feed.generatorComponent) return f;
    }
    return -1;
  }

  private startGenerator(f: number): void {
    const feed = this.topology.feeds[f]!;
    if (!feed.generator || this.down[feed.generatorComponent] === 1 || this.gen[f] === GEN_RUNNING || this.gen[f] === GEN_STARTING) return;
    const mode = this.startModes[f]!;
    const fails = mode === "fail" || (mode === "sample" && this.options.random!(f) < feed.generator.startFailureProbability);
    if (fails) {
      this.gen[f] = GEN_FAILED_START;
      this.log(`generator ${feed.id} fails to start`);
      return;
    }
    this.gen[f] = GEN_STARTING;
    this.genReadyAt[f] = this.t + feed.generator.startDelaySeconds;
    this.log(`generator ${feed.id} starting (ready in ${feed.generator.startDelaySeconds} s)`);
    if (feed.generator.startDelaySeconds === 0) this.fireReady(f);
  }

  private fireReady(f: number): void {
    this.gen[f] = GEN_RUNNING;
    this.log(`generator ${this.topology.feeds[f]!.id} running`);
  }

  private fireInternal(f: number): void {
    const feed = this.topology.feeds[f]!;
    this.fullNeeded = true;
    switch (this.nextKind[f]) {
      case INT_READY:
        this.fireReady(f);
        break;
      case INT_BATTERY:
        this.charge[f] = 0;
        this.log(`UPS ${feed.id} battery empty`);
        break;
      case INT_FUEL:
        this.fuel[f] = 0;
        this.gen[f] = GEN_EMPTY;
        this.log(`generator ${feed.id} out of fuel`);
        break;
    }
    this.nextKind[f] = INT_NONE;
  }

  /** Picks each feed's source from the state, runs the power flow and books every change. */
  private evaluate(): void {
    if (!this.fullNeeded) {
      // Only hosts' own failures/repairs since the last evaluation: sources are unchanged.
      const pending = this.pendingHosts;
      let ok = true;
      for (let k = 0; k < pending.length && ok; k++) ok = this.flow.hostChanged(pending[k]!, this.down, this.sourceKw);
      if (ok) {
        if (this.options.record) {
          this.services.evaluate(this.flow.hostPowered, this.running, this.up);
          this.ledger.book(this.t, this.booked);
        } else {
          // Only the services with a replica on those hosts can change, and only those hosts
          // and services need booking.
          const touched = this.touchedServices;
          touched.length = 0;
          for (let k = 0; k < pending.length; k++) {
            const of = this.services.servicesOfHost[pending[k]!]!;
            for (let j = 0; j < of.length; j++) touched.push(of[j]!);
          }
          for (let k = 0; k < touched.length; k++) this.services.evaluateService(touched[k]!, this.flow.hostPowered, this.running, this.up);
          this.ledger.bookChanged(this.t, this.booked, pending, touched);
        }
        pending.length = 0;
        return;
      }
    }
    this.fullNeeded = false;
    this.pendingHosts.length = 0;
    const { topology, down } = this;
    topology.feeds.forEach((feed, f) => {
      let src = SRC_NONE;
      let kw = 0;
      if (down[feed.feedComponent] === 1) src = SRC_NONE;
      else if (down[feed.utilityComponent] === 0) [src, kw] = [SRC_UTILITY, feed.utilityKw];
      else if (feed.generator && this.gen[f] === GEN_RUNNING) [src, kw] = [SRC_GENERATOR, feed.generator.capacityKw];
      else if (feed.ups && down[feed.upsComponent] === 0 && this.charge[f]! > 1e-12) [src, kw] = [SRC_UPS, feed.ups.capacityKw];
      this.source[f] = src;
      this.sourceKw[f] = kw;
    });
    this.flow.evaluate(down, this.sourceKw);
    // No host's power changed since the last booking: no service changed and there is nothing
    // to book (timelines still take a segment at every instant, and a run's first instant is
    // always booked).
    if (this.flow.unchanged && !this.options.record && !this.firstInstant) return;
    this.firstInstant = false;
    this.services.evaluate(this.flow.hostPowered, this.running, this.up);
    this.ledger.book(this.t, this.booked);
  }

  /** Battery drain (per second) on feed f at the current load plus the UPS's own losses, or 0. */
  private drain(f: number): number {
    const feed = this.topology.feeds[f]!;
    if (this.source[f] !== SRC_UPS || this.flow.feedAlive[f] === 0 || !feed.ups) return 0;
    const load = this.flow.feedLoad[f]! + this.reliability.upsIdleLossFraction * feed.ups.capacityKw;
    if (load <= 0) return 0;
    return Math.pow(load / feed.ups.capacityKw, this.reliability.upsPeukertExponent) / (feed.ups.runtimeMinutes * 60);
  }

  /** Fuel burn (tank fraction per second) on feed f, or 0 when the generator is not running. */
  private burn(f: number): number {
    const feed = this.topology.feeds[f]!;
    if (this.gen[f] !== GEN_RUNNING || !feed.generator) return 0;
    const load = this.source[f] === SRC_GENERATOR && this.flow.feedAlive[f] === 1 ? this.flow.feedLoad[f]! : 0;
    const idle = this.reliability.generatorIdleFuelFraction;
    return (idle + (1 - idle) * (load / feed.generator.capacityKw)) / (feed.generator.fuelHours * 3600);
  }

  private scheduleInternal(): void {
    for (let f = 0; f < this.topology.feeds.length; f++) {
      let at = Infinity;
      let kind = INT_NONE;
      if (this.gen[f] === GEN_STARTING) [at, kind] = [this.genReadyAt[f]!, INT_READY];
      const d = this.drain(f);
      if (d > 0 && this.t + this.charge[f]! / d < at) [at, kind] = [this.t + this.charge[f]! / d, INT_BATTERY];
      const b = this.burn(f);
      if (b > 0 && this.t + this.fuel[f]! / b < at) [at, kind] = [this.t + this.fuel[f]! / b, INT_FUEL];
      this.nextAt[f] = at;
      this.nextKind[f] = kind;
    }
  }

  private integrate(dt: number): void {
    if (dt <= 0) return;
    const { topology } = this;
    for (let f = 0; f < topology.feeds.length; f++) {
      const feed = topology.feeds[f]!;
      const d = this.drain(f);
      if (d > 0) this.charge[f] = Math.max(0, this.charge[f]! - d * dt);
      else if (feed.ups && this.down[feed.upsComponent] === 0 && (this.source[f] === SRC_UTILITY || this.source[f] === SRC_GENERATOR) && this.charge[f]! < 1) {
        this.charge[f] = Math.min(1, this.charge[f]! + dt / (this.reliability.upsRechargeHours * 3600));
      }
      const b = this.burn(f);
      if (b > 0) this.fuel[f] = Math.max(0, this.fuel[f]! - b * dt);
    }
  }
}
