/**
 * Replica placement. Hard rules: a replica needs a host of its plan's kind with room for the
 * plan, two replicas of one service never share a host, and a dedicated host holds a single
 * replica. Soft rules, in order: spread a service's replicas over racks, then over power
 * feeds, then fill the least-loaded host; ties go to the host declared first.
 *
 * Stability: replicas recorded in the lock keep their host as long as it still satisfies the
 * hard rules, and they are accounted before anything new is placed, so adding hosts or
 * services never moves an existing replica.
 */
import type { DatacenterSpec, HostSpec, PlanSpec } from "../spec/schema";
import type { SpecIssue } from "../spec/issues";
import type { PlanLock, PlanNote } from "./types";

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

function hostFeeds(spec: DatacenterSpec, host: HostSpec): string[] {
  const pduFeed = new Map(spec.racks.flatMap((r) => r.pdus.map((p) => [p.id, p.feed] as const)));
  return [...new Set(host.psus.map((p) => pduFeed.get(p) ?? "?"))].sort();
}

function kindFor(plan: PlanSpec): HostSpec["kind"] {
  return plan.kind === "vps" ? "virtualization" : "dedicated";
}

function hasRoom(h: HostState, plan: PlanSpec): boolean {
  if (h.spec.kind === "dedicated" && h.replicas.length > 0) return false;
  return h.cpus + plan.cpus <= h.cpuLimit + EPSILON && h.memoryGb + plan.memoryGb <= h.spec.capacity.memoryGb + EPSILON && h.diskGb + plan.diskGb <= h.spec.capacity.diskGb + EPSILON;
}

function take(h: HostState, plan: PlanSpec, replica: string): void {
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
  const hosts: HostState[] = spec.hosts.map((h, index) => ({
    spec: h,
    index,
    feeds: hostFeeds(spec, h),
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

  // Pass 2: place the rest in declaration order.
  spec.services.forEach((svc, s) => {
    const plan = plans.get(svc.plan)!;
    const mine = siblings.get(svc.id)!;
    for (let i = 0; i < svc.replicas; i++) {
      const id = replicaId(svc.id, i);
      if (hostOf.has(id)) continue;
      let best: HostState | undefined;
      let bestScore: number[] = [];
      for (const h of hosts) {
        if (h.spec.kind !== kindFor(plan) || mine.includes(h) || !hasRoom(h, plan)) continue;
        const score = [
          mine.filter((o) => o.spec.rack === h.spec.rack).length,
          mine.filter((o) => sameSingleFeed(o, h)).length,
          Math.round(((h.cpus + plan.cpus) / h.cpuLimit) * 1e6),
          h.index,
        ];
        if (best === undefined || lexLess(score, bestScore)) {
          best = h;
          bestScore = score;
        }
      }
      if (!best) {
        const kind = kindFor(plan);
        const free = hosts
          .filter((h) => h.spec.kind === kind && !mine.includes(h))
          .map((h) => `${h.spec.id}: ${fmt(h.cpuLimit - h.cpus)} cpus, ${fmt(h.spec.capacity.memoryGb - h.memoryGb)} GB free${h.spec.kind === "dedicated" && h.replicas.length ? " (taken)" : ""}`);
        issues.push({
          path: ["services", s, "replicas"],
          message: `cannot place replica ${id}: no ${kind} host has room for plan ${plan.id} (${plan.cpus} cpus, ${plan.memoryGb} GB, ${plan.diskGb} GB disk)${free.length ? `; free: ${free.join("; ")}` : ""}`,
        });
        continue;
      }
      take(best, plan, id);
      mine.push(best);
      hostOf.set(id, best.spec.id);
    }
  });

  // Report in replica order regardless of which pass placed a replica.
  const ordered = new Map<string, string>();
  for (const svc of spec.services) {
    for (let i = 0; i < svc.replicas; i++) {
      const id = replicaId(svc.id, i);
      const h = hostOf.get(id);
      if (h !== undefined) ordered.set(id, h);
    }
  }
  return { hostOf: ordered, hosts, notes, issues };
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
