/**
 * N-1 and N-2 analysis: fail every feed, utility, UPS, generator, PDU, rack and host in turn
 * (or every pair) and record which services go down. "Down" is the settled state; the
 * transient (does the UPS bridge until the generator carries the load?) is played out by the
 * discrete-event simulator and reported as `servicesInterrupted`.
 */
import type { DatacenterPlan } from "../plan/types";
import type { DatacenterSpec } from "../spec/schema";
import { PowerFlow } from "./flow";
import { defaultReliability, reliabilityModel } from "./reliability";
import { Simulator } from "./simulator";
import { ServiceIndex, steadySources } from "./steady";
import { powerTopology, type PowerTopology } from "./topology";
import type { ComponentId, NMinusOneRow, ReliabilityModel, ServiceVerdict } from "./types";

export interface NMinusOneOptions {
  /** Component kinds to fail (default: all). */
  readonly kinds?: readonly string[];
  /** Also play out the transient with the simulator (default true). */
  readonly transients?: boolean;
  /** Seconds the transient is played out for (default 1 hour). */
  readonly transientSeconds?: number;
  /** Battery and fuel constants for the transients (default: the stack's, else the defaults). */
  readonly reliability?: ReliabilityModel;
}

/** One failure set evaluated; shared by N-1 and N-2. */
class Analyzer {
  private readonly flow: PowerFlow;
  private readonly services: ServiceIndex;
  private readonly down: Uint8Array;
  private readonly sources: Float64Array<ArrayBuffer>;
  private readonly running: Int32Array;
  private readonly up: Uint8Array;
  private readonly sim: Simulator | undefined;

  constructor(
    private readonly topology: PowerTopology,
    plan: DatacenterPlan,
    private readonly options: NMinusOneOptions,
  ) {
    this.flow = new PowerFlow(topology);
    this.services = new ServiceIndex(topology, plan);
    this.down = new Uint8Array(topology.components.length);
    this.sources = new Float64Array(topology.feeds.length);
    this.running = new Int32Array(this.services.ids.length);
    this.up = new Uint8Array(this.services.ids.length);
    this.sim =
      options.transients === false
        ? undefined
        : new Simulator(topology, this.services, options.reliability ?? defaultReliability(), { generatorStart: "ok", record: false });
  }

  row(failed: readonly number[]): NMinusOneRow {
    const { topology } = this;
    this.down.fill(0);
    for (const c of failed) this.down[c] = 1;
    steadySources(topology, this.down, this.sources);
    this.flow.evaluate(this.down, this.sources);
    this.services.evaluate(this.flow.hostPowered, this.running, this.up);
    const servicesDown = this.services.ids.filter((_, s) => this.up[s] === 0);
    const hostsDown = topology.hosts.filter((_, h) => this.flow.hostPowered[h] === 0).map((h) => h.id);
    const tripped = [
      ...topology.pdus.filter((_, i) => this.flow.pduTripped[i] === 1).map((p) => `pdu:${p.id}`),
      ...topology.feeds.filter((_, i) => this.flow.feedTripped[i] === 1).map((f) => `feed:${f.id}`),
    ];
    let servicesInterrupted: string[] = [];
    if (this.sim && needsTransient(topology, failed)) {
      // The failures strike at t=0 on a healthy datacenter and are never repaired.
      const result = this.sim.run(
        this.options.transientSeconds ?? 3600,
        failed.map((c) => ({ at: 0, component: c, down: true })),
      );
      servicesInterrupted = this.services.ids.filter((_, s) => result.serviceDowntime[s]! > 0 && this.up[s] === 1);
    }
    const ids = failed.map((c) => topology.components[c]!.id);
    return {
      component: ids.join("+"),
      kind: topology.components[failed[0]!]!.kind,
      failed: ids,
      servicesDown,
      servicesInterrupted,
      hostsDown,
      tripped,
    };
  }
}

/** Only a lost source has a transient worth simulating; PDU, rack and host failures are instant. */
function needsTransient(topology: PowerTopology, failed: readonly number[]): boolean {
  return failed.some((c) => {
    const kind = topology.components[c]!.kind;
    return kind === "utility" || kind === "feed";
  });
}

function candidates(topology: PowerTopology, kinds?: readonly string[]): number[] {
  return topology.components.flatMap((c, i) => (kinds === undefined || kinds.includes(c.kind) ? [i] : []));
}

/** Every single component failure and what it takes down. Rows follow the topology order (feeds, PDUs, racks, hosts). */
export function nMinusOne(spec: DatacenterSpec, plan: DatacenterPlan, options: NMinusOneOptions = {}): NMinusOneRow[] {
  return nMinusOneOf(powerTopology(spec), plan, { reliability: reliabilityModel(spec), ...options });
}

export function nMinusOneOf(topology: PowerTopology, plan: DatacenterPlan, options: NMinusOneOptions = {}): NMinusOneRow[] {
  const analyzer = new Analyzer(topology, plan, options);
  return candidates(topology, options.kinds).map((c) => analyzer.row([c]));
}

/**
 * Every pair of component failures that takes at least one service down which neither
 * failure takes down alone (the pairs an N-2 review cares about).
 */
export function nMinusTwo(spec: DatacenterSpec, plan: DatacenterPlan, options: NMinusOneOptions = {}): NMinusOneRow[] {
  const topology = powerTopology(spec);
  const analyzer = new Analyzer(topology, plan, { reliability: reliabilityModel(spec), ...options, transients: options.transients ?? false });
  const list = candidates(topology, options.kinds);
  const single = new Map(list.map((c) => [c, new Set(analyzer.row([c]).servicesDown)]));
  const rows: NMinusOneRow[] = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i]!;
      const b = list[j]!;
      const row = analyzer.row([a, b]);
      const fresh = row.servicesDown.filter((s) => !single.get(a)!.has(s) && !single.get(b)!.has(s));
      if (fresh.length > 0) rows.push(row);
    }
  }
  return rows;
}

/** Per service: which single failures take it down or interrupt it. */
export function serviceVerdicts(plan: DatacenterPlan, rows: readonly NMinusOneRow[]): ServiceVerdict[] {
  return plan.services.map((s) => {
    const downBy: ComponentId[] = rows.filter((r) => r.servicesDown.includes(s.id)).map((r) => r.component);
    const interruptedBy: ComponentId[] = rows.filter((r) => r.servicesInterrupted.includes(s.id)).map((r) => r.component);
    return {
      service: s.id,
      redundant: s.redundant,
      survivesNMinusOne: downBy.length === 0,
      uninterrupted: downBy.length === 0 && interruptedBy.length === 0,
      downBy,
      interruptedBy,
    };
  });
}

/** A service declared redundant that goes down in some of the failures analysed. */
export interface RedundantServiceDown {
  readonly service: string;
  /** The failures (`rack:r1`, for a pair `host:h1+host:h4`) after which it is down. */
  readonly downBy: readonly ComponentId[];
}

/**
 * The services declared redundant that go down in any of these N-1 or N-2 rows (down by the
 * rule of components/spec/redundancy.ts, as every row is): what `serverpark simulate --n-1`
 * and `--n-2` fail on. Empty when every redundant service survives every row.
 */
export function redundantServicesDown(plan: DatacenterPlan, rows: readonly NMinusOneRow[]): RedundantServiceDown[] {
  return plan.services.flatMap((s) => {
    if (!s.redundant) return [];
    const downBy = rows.filter((r) => r.servicesDown.includes(s.id)).map((r) => r.component);
    return downBy.length > 0 ? [{ service: s.id, downBy }] : [];
  });
}
