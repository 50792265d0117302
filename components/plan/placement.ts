/**
 * Replica placement. Hard rules: a replica needs a host of its plan's kind with room for the
 * plan, two replicas of one service never share a host, and a dedicated host holds a single
 * replica. Soft rules, in order: spread a service's replicas over racks, then over power
 * feeds, then fill the least-loaded host; ties go to the host declared first.
 *
 * Stability: replicas recorded in the lock keep their host as long as it still satisfies the
 * hard rules, and they are accounted before anything new is placed, so adding hosts or
 * services never moves an existing replica.
 *
 * An HA db group's monitor (./ha.ts) is placed last, with the same lock rule: never on a host
 * of the group's data nodes, then away from their racks and feeds, then virtualization hosts
 * before an empty dedicated one, then the least-loaded host.
 */
import type { DatacenterSpec, HostSpec, PlanSpec } from "../spec/schema";
import type { SpecIssue } from "../spec/issues";
import { HA_MONITOR_RESOURCES, isHaGroup, monitorId } from "./ha";
import type { PlanLock, PlanNote, Resources } from "./types";

export interface HostState {
  readonly spec: HostSpec;
  readonly index: number;
  readonly feeds: readonly string[];
  readonly cpuLimit: number;
  cpus: number;
  memoryGb: number;
  diskGb: number;
  readonly replicas: string[];
}

export interface Placement {
  /** replica id → host id, in replica order (services in declaration order, then index). */
  readonly hostOf: ReadonlyMap<string, string>;
  readonly hosts: readonly HostState[];
  readonly notes: PlanNote[];
  readonly issues: SpecIssue[];
}

export const replicaId = (service: string, index: number): string => `${service}-${index}`;

const EPSILON = 1e-9;

function hostFeeds(pduFeed: ReadonlyMap<string, string>, host: HostSpec): string[] {
  return [...new Set(host.psus.map((p) => pduFeed.get(p) ?? "?"))].sort();
}

function kindFor(plan: PlanSpec): HostSpec["kind"] {
  return plan.kind === "vps" ? "virtualization" : "dedicated";
}

function hasRoom(h: HostState, plan: Resources): boolean {
  if (h.spec.kind === "dedicated" && h.replicas.length > 0) return false;
  return (
    h.cpus + plan.cpus <= h.cpuLimit + EPSILON &&
    h.memoryGb + plan.memoryGb <= h.spec.capacity.memoryGb + EPSILON &&
    h.diskGb + plan.diskGb <= h.spec.capacity.diskGb + EPSILON
  );
}

function take(h: HostState, plan: Resources, replica: string): void {
  h.cpus += plan.cpus;
  h.memoryGb += plan.memoryGb;
  h.diskGb += plan.diskGb;
  h.replicas.push(replica);
}

/** Two hosts share a single point of power failure when each hangs on the same one feed. */
function sameSingleFeed(a: HostState, b: HostState): boolean {
  return a.feeds.length === 1 && b.feeds.length === 1 && a.feeds[0] === b.feeds[0];
}

export function placeReplicas(spec: DatacenterSpec, lock: PlanLock | undefined): Placement {
  const pduFeed = new Map(spec.racks.flatMap((r) => r.pdus.map((p) => [p.id, p.feed] as const)));
  const hosts: HostState[] = spec.hosts.map((h, index) => ({
    spec: h,
    index,
    feeds: hostFeeds(pduFeed, h),
    cpuLimit: h.kind === "virtualization" ? h.capacity.cpus * spec.cpuOvercommit : h.capacity.cpus,
    cpus: 0,
    memoryGb: 0,
    diskGb: 0,
    replicas: [],
  }));
  const byId = new Map(hosts.map((h) => [h.spec.id, h]));
  const plans = new Map(spec.plans.map((p) => [p.id, p]));
  const hostOf = new Map<string, string>();
  const siblings = new Map<string, HostState[]>();
  const notes: PlanNote[] = [];
  const issues: SpecIssue[] = [];

  // Pass 1: keep every locked replica whose host is still a legal home for it.
  spec.services.forEach((svc, s) => {
    const plan = plans.get(svc.plan)!;
    const mine: HostState[] = [];
    siblings.set(svc.id, mine);
    for (let i = 0; i < svc.replicas; i++) {
      const id = replicaId(svc.id, i);
      const lockedHost = lock?.placement[id];
      if (lockedHost === undefined) continue;
      const h = byId.get(lockedHost);
      let why: string | undefined;
      if (!h) why = `its host ${lockedHost} no longer exists`;
      else if (h.spec.kind !== kindFor(plan)) why = `host ${lockedHost} is not a ${kindFor(plan)} host`;
      else if (mine.includes(h)) why = `host ${lockedHost} already holds another replica of ${svc.id}`;
      else if (!hasRoom(h, plan)) why = `host ${lockedHost} has no room left for plan ${plan.id}`;
      if (why !== undefined || !h) {
        notes.push({ path: ["services", s, "replicas"], message: `replica ${id} MOVES: ${why}; it is placed anew` });
        continue;
      }
      take(h, plan, id);
      mine.push(h);
      hostOf.set(id, h.spec.id);
    }
  });

  keepLockedMonitors(spec, lock, byId, siblings, hostOf, notes);

  // Pass 2: place the rest in declaration order. Candidates come from a heap ordered by
  // (load, declaration index): the first host without a rack or feed conflict is the best
  // choice, and conflicts only exist in the few racks a service already uses, so the search
  // stops early. Only when every host conflicts does it fall back to scoring them all.
  const heaps = new Map<HostSpec["kind"], HostHeap>([
    ["virtualization", new HostHeap(hosts.length)],
    ["dedicated", new HostHeap(hosts.length)],
  ]);
  for (const h of hosts) if (h.spec.kind === "virtualization" || h.replicas.length === 0) heaps.get(h.spec.kind)!.push(h);
  spec.services.forEach((svc, s) => {
    const plan = plans.get(svc.plan)!;
    const mine = siblings.get(svc.id)!;
    const heap = heaps.get(kindFor(plan))!;
    for (let i = 0; i < svc.replicas; i++) {
      const id = replicaId(svc.id, i);
      if (hostOf.has(id)) continue;
      const best = pickFromHeap(heap, mine, plan) ?? pickByScan(hosts, mine, plan);
      if (!best) {
        const kind = kindFor(plan);
        const free = hosts
          .filter((h) => h.spec.kind === kind && !mine.includes(h))
          .slice(0, 10)
          .map(
            (h) =>
              `${h.spec.id}: ${fmt(h.cpuLimit - h.cpus)} cpus, ${fmt(h.spec.capacity.memoryGb - h.memoryGb)} GB free${h.spec.kind === "dedicated" && h.replicas.length ? " (taken)" : ""}`,
          );
        issues.push({
          path: ["services", s, "replicas"],
          message: `cannot place replica ${id}: no ${kind} host has room for plan ${plan.id} (${plan.cpus} cpus, ${plan.memoryGb} GB, ${plan.diskGb} GB disk)${free.length ? `; free: ${free.join("; ")}` : ""}`,
        });
        continue;
      }
      heap.remove(best);
      take(best, plan, id);
      if (best.spec.kind === "virtualization") heap.push(best);
      mine.push(best);
      hostOf.set(id, best.spec.id);
    }
  });

  placeMonitors(spec, hosts, siblings, hostOf, issues);

  // Report in replica order regardless of which pass placed a replica (a group's monitor after its data nodes).
  const ordered = new Map<string, string>();
  for (const svc of spec.services) {
    const ids = Array.from({ length: svc.replicas }, (_, i) => replicaId(svc.id, i));
    for (const id of isHaGroup(svc) ? [...ids, monitorId(svc.id)] : ids) {
      const h = hostOf.get(id);
      if (h !== undefined) ordered.set(id, h);
    }
  }
  return { hostOf: ordered, hosts, notes, issues };
}

/** Pass 1 for each HA group's monitor (./ha.ts): it keeps its locked host while that is still legal. */
function keepLockedMonitors(
  spec: DatacenterSpec,
  lock: PlanLock | undefined,
  byId: ReadonlyMap<string, HostState>,
  siblings: ReadonlyMap<string, HostState[]>,
  hostOf: Map<string, string>,
  notes: PlanNote[],
): void {
  spec.services.forEach((svc, s) => {
    const id = monitorId(svc.id);
    const lockedHost = lock?.placement[id];
    if (!isHaGroup(svc) || lockedHost === undefined) return;
    const h = byId.get(lockedHost);
    let why: string | undefined;
    if (!h) why = `its host ${lockedHost} no longer exists`;
    else if (siblings.get(svc.id)!.includes(h)) why = `host ${lockedHost} holds a data node of ${svc.id}`;
    else if (!hasRoom(h, HA_MONITOR_RESOURCES)) why = `host ${lockedHost} has no room left for it`;
    if (why !== undefined || !h) {
      notes.push({ path: ["services", s, "replicas"], message: `the monitor ${id} MOVES: ${why}; it is placed anew` });
      return;
    }
    take(h, HA_MONITOR_RESOURCES, id);
    hostOf.set(id, h.spec.id);
    // A sibling from now on: a data node placed in pass 2 avoids its host (and spreads from its rack).
    siblings.get(svc.id)!.push(h);
  });
}

/**
 * The monitors not kept by the lock, after every data node: never on a data node's host, then
 * fewest shared racks and single feeds with the data nodes, virtualization hosts before an
 * empty dedicated one, least load, declaration order.
 */
function placeMonitors(
  spec: DatacenterSpec,
  hosts: readonly HostState[],
  siblings: ReadonlyMap<string, HostState[]>,
  hostOf: Map<string, string>,
  issues: SpecIssue[],
): void {
  spec.services.forEach((svc, s) => {
    const id = monitorId(svc.id);
    if (!isHaGroup(svc) || hostOf.has(id)) return;
    const data = siblings.get(svc.id)!;
    let best: HostState | undefined;
    let bestScore: number[] = [];
    for (const h of hosts) {
      if (data.includes(h) || !hasRoom(h, HA_MONITOR_RESOURCES)) continue;
      const score = [...conflicts(h, data), h.spec.kind === "virtualization" ? 0 : 1, loadKey(h), h.index];
      if (best === undefined || lexLess(score, bestScore)) {
        best = h;
        bestScore = score;
      }
    }
    if (!best) {
      issues.push({
        path: ["services", s, "replicas"],
        message: `cannot place the monitor ${id} of the highly available ${svc.id}: it needs a host without a data node of ${svc.id} and room for ${HA_MONITOR_RESOURCES.cpus} cpus, ${HA_MONITOR_RESOURCES.memoryGb} GB (a virtualization host, or an empty dedicated one)`,
      });
      return;
    }
    take(best, HA_MONITOR_RESOURCES, id);
    hostOf.set(id, best.spec.id);
  });
}

function conflicts(h: HostState, mine: readonly HostState[]): [number, number] {
  let rack = 0;
  let feed = 0;
  for (const o of mine) {
    if (o.spec.rack === h.spec.rack) rack++;
    if (sameSingleFeed(o, h)) feed++;
  }
  return [rack, feed];
}

/** No other replica of the service in the host's rack or on its single feed. */
function conflictFree(h: HostState, mine: readonly HostState[]): boolean {
  for (const o of mine) if (o.spec.rack === h.spec.rack || sameSingleFeed(o, h)) return false;
  return true;
}

/** Lowest (load, index) host with room and no conflict with the service's other replicas. */
function pickFromHeap(heap: HostHeap, mine: readonly HostState[], plan: PlanSpec): HostState | undefined {
  return heap.first((h) => !mine.includes(h) && hasRoom(h, plan) && conflictFree(h, mine));
}

/** The full lexicographic choice: (rack conflicts, feed conflicts, load, index). */
function pickByScan(hosts: readonly HostState[], mine: readonly HostState[], plan: PlanSpec): HostState | undefined {
  let best: HostState | undefined;
  let bestScore: number[] = [];
  for (const h of hosts) {
    if (h.spec.kind !== kindFor(plan) || mine.includes(h) || !hasRoom(h, plan)) continue;
    const score = [...conflicts(h, mine), loadKey(h), h.index];
    if (best === undefined || lexLess(score, bestScore)) {
      best = h;
      bestScore = score;
    }
  }
  return best;
}

/** CPU load as an integer, so ties compare exactly. */
function loadKey(h: HostState): number {
  return Math.round((h.cpus / h.cpuLimit) * 1e6);
}

/**
 * Hosts ordered by (load, declaration index). `ordered()` walks them lazily from the best,
 * without disturbing the heap. Hand-written: a binary heap with removal by identity is a
 * few lines, and the npm heaps either lack removal or allocate a wrapper per entry.
 */
class HostHeap {
  private readonly items: HostState[] = [];
  /** Per host (by declaration index): its position in `items`, or -1. */
  private readonly at: Int32Array;

  constructor(hostCount: number) {
    this.at = new Int32Array(hostCount).fill(-1);
  }

  push(h: HostState): void {
    this.items.push(h);
    this.at[h.index] = this.items.length - 1;
    this.up(this.items.length - 1);
  }

  remove(h: HostState): void {
    const i = this.at[h.index]!;
    if (i < 0) return;
    const last = this.items.pop()!;
    this.at[h.index] = -1;
    if (i < this.items.length) {
      this.items[i] = last;
      this.at[last.index] = i;
      this.down(i);
      this.up(i);
    }
  }

  /** The first host, best-first, that `accept`s, found by expanding the heap tree with a small frontier. */
  first(accept: (h: HostState) => boolean): HostState | undefined {
    if (this.items.length === 0) return undefined;
    const frontier: number[] = [0];
    while (frontier.length > 0) {
      // The frontier stays tiny (a few entries per host examined): a linear minimum is fine.
      let m = 0;
      for (let k = 1; k < frontier.length; k++) if (this.less(this.items[frontier[k]!]!, this.items[frontier[m]!]!)) m = k;
      const i = frontier[m]!;
      frontier[m] = frontier[frontier.length - 1]!;
      frontier.pop();
      if (accept(this.items[i]!)) return this.items[i];
      if (2 * i + 1 < this.items.length) frontier.push(2 * i + 1);
      if (2 * i + 2 < this.items.length) frontier.push(2 * i + 2);
    }
    return undefined;
  }

  private less(a: HostState, b: HostState): boolean {
    const la = loadKey(a);
    const lb = loadKey(b);
    return la !== lb ? la < lb : a.index < b.index;
  }

  private swap(i: number, j: number): void {
    const a = this.items[i]!;
    const b = this.items[j]!;
    this.items[i] = b;
    this.items[j] = a;
    this.at[b.index] = i;
    this.at[a.index] = j;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(this.items[i]!, this.items[p]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.items.length && this.less(this.items[l]!, this.items[m]!)) m = l;
      if (r < this.items.length && this.less(this.items[r]!, this.items[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]!;
  }
  return false;
}

function fmt(n: number): string {
  return String(Math.round(n * 100) / 100);
}
