/**
 * Steady-state questions: with these components failed (and every transient over: the
 * generators have started where the utility is gone), which hosts have power, and which
 * services are up?
 */
import type { DatacenterPlan, PlannedReplica, PlannedService } from "../plan/types";
import { replicasNeeded, serviceUp, upWith } from "../spec/redundancy";
import { PowerFlow } from "./flow";
import type { PowerTopology } from "./topology";
import { COMPONENT_KINDS, type ComponentId, type FeedSource, type PowerState, type ServiceState } from "./types";

/** Thrown for a component id that is not in the topology; the message lists what exists. */
export class UnknownComponentError extends Error {
  constructor(
    readonly component: string,
    topology: PowerTopology,
  ) {
    const kind = component.split(":")[0] ?? "";
    const sameKind = topology.components.filter((c) => c.kind === kind).map((c) => c.id);
    const hint = (COMPONENT_KINDS as readonly string[]).includes(kind)
      ? sameKind.length > 0
        ? `known ${kind} components: ${sameKind.slice(0, 12).join(", ")}${sameKind.length > 12 ? ", …" : ""}`
        : `this datacenter has no ${kind} components`
      : `expected <kind>:<id> with kind one of ${COMPONENT_KINDS.join(", ")} (e.g. utility:A, pdu:r1-pdu-a, host:h1)`;
    super(`unknown component "${component}": ${hint}`);
    this.name = "UnknownComponentError";
  }
}

/** Component ids → a `down` vector; throws `UnknownComponentError` for an unknown id. */
export function downVector(topology: PowerTopology, failed: Iterable<ComponentId>): Uint8Array {
  const down = new Uint8Array(topology.components.length);
  for (const id of failed) {
    const i = topology.componentIndex.get(id);
    if (i === undefined) throw new UnknownComponentError(id, topology);
    down[i] = 1;
  }
  return down;
}

/** Steady-state source of every feed: utility while it is up, else the generator, else none. */
export function steadySources(
  topology: PowerTopology,
  down: Uint8Array,
  out: Float64Array = new Float64Array(topology.feeds.length),
  kinds?: FeedSource[],
): Float64Array {
  topology.feeds.forEach((f, i) => {
    let kw = 0;
    let kind: FeedSource = "none";
    if (down[f.feedComponent] === 1) kw = 0;
    else if (down[f.utilityComponent] === 0) [kw, kind] = [f.utilityKw, "utility"];
    else if (f.generator && down[f.generatorComponent] === 0) [kw, kind] = [f.generator.capacityKw, "generator"];
    out[i] = kw;
    if (kinds) kinds[i] = kind;
  });
  return out;
}

/** Full steady-state result for a set of failed components. */
export function evaluatePower(topology: PowerTopology, failed: Iterable<ComponentId>): PowerState {
  const down = downVector(topology, failed);
  const kinds: FeedSource[] = [];
  const flow = new PowerFlow(topology);
  flow.evaluate(down, steadySources(topology, down, undefined, kinds));
  const round = (n: number) => Math.round(n * 1e6) / 1e6;
  return {
    poweredHosts: new Set(topology.hosts.filter((_, h) => flow.hostPowered[h] === 1).map((h) => h.id)),
    feedSource: Object.fromEntries(topology.feeds.map((f, i) => [f.id, flow.feedAlive[i] === 1 ? kinds[i]! : "none"])),
    feedLoadKw: Object.fromEntries(topology.feeds.map((f, i) => [f.id, round(flow.feedLoad[i]!)])),
    pduLoadKw: Object.fromEntries(topology.pdus.map((p, i) => [p.id, round(flow.pduLoad[i]!)])),
    tripped: [
      ...topology.pdus.filter((_, i) => flow.pduTripped[i] === 1).map((p) => `pdu:${p.id}`),
      ...topology.feeds.filter((_, i) => flow.feedTripped[i] === 1).map((f) => `feed:${f.id}`),
    ],
  };
}

/** Host ids that have power when `failed` components are down (steady state). */
export function poweredHosts(topology: PowerTopology, failed: Iterable<ComponentId>): ReadonlySet<string> {
  return evaluatePower(topology, failed).poweredHosts;
}

/**
 * Which services are up when exactly the hosts in `powered` run. A replica runs while its host
 * has power; a service is up while it has the replicas it needs (components/spec/redundancy.ts).
 */
export function serviceStates(plan: DatacenterPlan, powered: ReadonlySet<string>): ServiceState[] {
  const hostOf = new Map(plan.replicas.map((r) => [r.id, r.host]));
  return plan.services.map((s) => {
    const running = s.replicas.filter((r) => powered.has(hostOf.get(r) ?? ""));
    const arbiters = arbitersOf(plan, s);
    return {
      service: s.id,
      replicas: s.replicas.length,
      minReplicas: s.minReplicas,
      needed: replicasNeeded(s),
      running,
      up: serviceUp(s, running.length, { total: arbiters.length, running: arbiters.filter((a) => powered.has(a.host)).length }),
    };
  });
}

/** Members of the service's group that are not its replicas: its arbiters (components/spec/redundancy.ts). */
export function arbitersOf(plan: Pick<DatacenterPlan, "replicas">, service: PlannedService): PlannedReplica[] {
  return plan.replicas.filter((r) => r.service === service.id && !service.replicas.includes(r.id));
}

/**
 * Services as index arrays over hosts, for the simulation's inner loop: counting running
 * replicas per service without maps or strings.
 */
export class ServiceIndex {
  readonly ids: readonly string[];
  /**
   * Per service: the running replicas it needs to be up (replicasNeeded in
   * components/spec/redundancy.ts: minReplicas, or every replica of one that does not replicate).
   */
  readonly needed: Int32Array;
  /** Per service: host index of each replica (a host appears once per replica it carries). */
  readonly replicaHosts: readonly Int32Array[];
  /** Per service: host index of each of its group's arbiters (none for most services). */
  readonly arbiterHosts: readonly Int32Array[];

  constructor(topology: PowerTopology, plan: Pick<DatacenterPlan, "services" | "replicas">) {
    const hostOf = new Map(plan.replicas.map((r) => [r.id, r.host]));
    const hostIndex = (host: string | undefined) => topology.hostIndex.get(host ?? "") ?? -1;
    this.ids = plan.services.map((s) => s.id);
    this.needed = Int32Array.from(plan.services.map((s) => replicasNeeded(s)));
    this.replicaHosts = plan.services.map((s) => Int32Array.from(s.replicas.map((r) => hostIndex(hostOf.get(r)))));
    this.arbiterHosts = plan.services.map((s) => Int32Array.from(arbitersOf(plan, s).map((a) => hostIndex(a.host))));
    // A host's change reaches the services with a replica or an arbiter on it.
    const servicesOf: number[][] = topology.hosts.map(() => []);
    this.ids.forEach((_, s) => {
      for (const h of [...this.replicaHosts[s]!, ...this.arbiterHosts[s]!]) if (h >= 0 && !servicesOf[h]!.includes(s)) servicesOf[h]!.push(s);
    });
    this.servicesOfHost = servicesOf.map((list) => Int32Array.from(list));
  }

  /** Per host: the services with a replica or an arbiter on it (each once). */
  readonly servicesOfHost: readonly Int32Array[];

  /** Writes running-replica counts and up flags (by upWith, components/spec/redundancy.ts) for the given powered-host vector. */
  evaluate(hostPowered: Uint8Array, running: Int32Array, up: Uint8Array): void {
    for (let s = 0; s < this.ids.length; s++) this.evaluateService(s, hostPowered, running, up);
  }

  /** `evaluate` for service `s` alone: enough when only hosts it has nothing on changed. */
  evaluateService(s: number, hostPowered: Uint8Array, running: Int32Array, up: Uint8Array): void {
    const replicas = this.replicaHosts[s]!;
    const arbiters = this.arbiterHosts[s]!;
    let n = 0;
    for (const h of replicas) if (h >= 0 && hostPowered[h] === 1) n++;
    let a = 0;
    for (const h of arbiters) if (h >= 0 && hostPowered[h] === 1) a++;
    running[s] = n;
    up[s] = upWith(this.needed[s]!, replicas.length, n, arbiters.length, a) ? 1 : 0;
  }
}
