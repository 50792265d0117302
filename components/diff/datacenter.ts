/**
 * `diffDatacenters(base, head)` — the datacenter-level diff of two specs and their plans
 * (each planned with its own side's lock). Pure and deterministic: parts are listed in the
 * head's declaration order, then the removed ones in the base's order, so the same two
 * inputs always give the same diff and a pull-request comment only changes where the PR does.
 */
import type { DatacenterPlan, DnsRecord, PlannedHost } from "../plan";
import type { DatacenterSpec, FeedSpec, HostSpec, PlanSpec, RackSpec } from "../spec/schema";
import { formatPath } from "../spec/issues";
import { cpus, feedsText, fieldChanges, matchById, num, show } from "./compare";
import { compareRedundancy, type RedundancyModel, type Side } from "./redundancy";
import { networkChanges, renumberings } from "./networks";
import { serviceChanges } from "./services";
import type { DatacenterChange, DatacenterDiff, HostCapacity, HostHeadroom, ReplicaMove } from "./types";

export type { Side } from "./redundancy";

export interface DiffOptions {
  /** Judges N-1 redundancy on each side; without it the report says the model is missing. */
  readonly redundancy?: RedundancyModel;
}

function feedText(f: FeedSpec): string {
  const parts = [`utility ${num(f.utility.capacityKw)} kW`];
  parts.push(f.ups ? `UPS ${num(f.ups.capacityKw)} kW / ${num(f.ups.runtimeMinutes)} min` : "no UPS");
  parts.push(f.generator ? `generator ${num(f.generator.capacityKw)} kW` : "no generator");
  return parts.join(", ");
}

function feedChanges(base: DatacenterSpec | undefined, head: DatacenterSpec | undefined, basePlan: DatacenterPlan | undefined): DatacenterChange[] {
  const { added, removed, kept } = matchById(base?.feeds ?? [], head?.feeds ?? []);
  const out: DatacenterChange[] = [];
  for (const f of added) out.push({ part: "feed", id: f.id, op: "add", summary: `+ feed ${f.id} (${feedText(f)})`, details: [] });
  for (const [a, b] of kept) {
    const details = fieldChanges(a, b, [
      ["utility kW", (f) => f.utility.capacityKw],
      ["UPS kW", (f) => f.ups?.capacityKw],
      ["UPS runtime min", (f) => f.ups?.runtimeMinutes],
      ["generator kW", (f) => f.generator?.capacityKw],
      ["generator start delay s", (f) => f.generator?.startDelaySeconds],
      ["generator fuel h", (f) => f.generator?.fuelHours],
      ["generator start failure probability", (f) => f.generator?.startFailureProbability],
    ]);
    if (details.length > 0) out.push({ part: "feed", id: b.id, op: "change", summary: `~ feed ${b.id}: ${details.join(", ")}`, details: [] });
  }
  for (const f of removed) {
    const hosts = (basePlan?.hosts ?? []).filter((h) => h.feeds.includes(f.id)).map((h) => h.id);
    out.push({ part: "feed", id: f.id, op: "remove", summary: `- feed ${f.id}${hosts.length ? ` (powered ${hosts.join(", ")})` : ""}`, details: [] });
  }
  return out;
}

function rackChanges(base: DatacenterSpec | undefined, head: DatacenterSpec | undefined): DatacenterChange[] {
  const pdus = (r: RackSpec) => r.pdus.map((p) => `${p.id} (feed ${p.feed}, ${num(p.capacityKw)} kW)`).join(", ");
  const { added, removed, kept } = matchById(base?.racks ?? [], head?.racks ?? []);
  const out: DatacenterChange[] = [];
  for (const r of added) out.push({ part: "rack", id: r.id, op: "add", summary: `+ rack ${r.id} with PDUs ${pdus(r)}`, details: [] });
  for (const [a, b] of kept) {
    const p = matchById(a.pdus, b.pdus);
    const details = [
      ...fieldChanges(a, b, [["units", (r) => r.units]]),
      ...p.added.map((x) => `+ PDU ${x.id} on feed ${x.feed} (${num(x.capacityKw)} kW)`),
      ...p.removed.map((x) => `- PDU ${x.id} (feed ${x.feed})`),
      ...p.kept.flatMap(([x, y]) =>
        fieldChanges(x, y, [
          [`PDU ${y.id} feed`, (q) => q.feed],
          [`PDU ${y.id} kW`, (q) => q.capacityKw],
        ]),
      ),
    ];
    if (details.length > 0) out.push({ part: "rack", id: b.id, op: "change", summary: `~ rack ${b.id}: ${details.join(", ")}`, details: [] });
  }
  for (const r of removed) out.push({ part: "rack", id: r.id, op: "remove", summary: `- rack ${r.id}`, details: [] });
  return out;
}

function hostText(h: HostSpec, planned: PlannedHost | undefined): string {
  const feeds = planned ? ` on ${feedsText(planned.feeds)}` : "";
  return `host ${h.id} in rack ${h.rack}${feeds} (${h.kind}, ${cpus(h.capacity.cpus)}, ${num(h.capacity.memoryGb)} GB memory, ${num(h.capacity.diskGb)} GB disk)`;
}

function hostChanges(base: Side | undefined, head: Side | undefined): DatacenterChange[] {
  const planned = (side: Side | undefined) => new Map((side?.plan.hosts ?? []).map((h) => [h.id, h]));
  const bp = planned(base);
  const hp = planned(head);
  const { added, removed, kept } = matchById(base?.spec.hosts ?? [], head?.spec.hosts ?? []);
  const out: DatacenterChange[] = [];
  for (const h of added) {
    const on = hp.get(h.id)?.replicas ?? [];
    out.push({ part: "host", id: h.id, op: "add", summary: `+ ${hostText(h, hp.get(h.id))}`, details: on.length ? [`runs ${on.join(", ")}`] : [] });
  }
  for (const [a, b] of kept) {
    const feedsA = bp.get(a.id)?.feeds ?? [];
    const feedsB = hp.get(b.id)?.feeds ?? [];
    const details = fieldChanges(a, b, [
      ["rack", (h) => h.rack],
      ["kind", (h) => h.kind],
      ["PSUs", (h) => h.psus],
      ["cpus", (h) => h.capacity.cpus],
      ["memory GB", (h) => h.capacity.memoryGb],
      ["disk GB", (h) => h.capacity.diskGb],
      ["power W", (h) => h.powerWatts],
      ["units", (h) => h.units],
    ]);
    if (show(feedsA) !== show(feedsB)) details.push(`${feedsText(feedsA)} → ${feedsText(feedsB)}${feedsB.length < feedsA.length ? " (loses a feed)" : ""}`);
    if (details.length > 0) out.push({ part: "host", id: b.id, op: "change", summary: `~ host ${b.id}: ${details.join(", ")}`, details: [] });
  }
  for (const h of removed) {
    const had = bp.get(h.id)?.replicas ?? [];
    out.push({ part: "host", id: h.id, op: "remove", summary: `- host ${h.id} (rack ${h.rack})`, details: had.length ? [`ran ${had.join(", ")}`] : [] });
  }
  return out;
}

function planChanges(base: DatacenterSpec | undefined, head: DatacenterSpec | undefined): DatacenterChange[] {
  const text = (p: PlanSpec) => `${p.kind}, ${cpus(p.cpus)}, ${num(p.memoryGb)} GB memory, ${num(p.diskGb)} GB disk`;
  const { added, removed, kept } = matchById(base?.plans ?? [], head?.plans ?? []);
  const out: DatacenterChange[] = [];
  for (const p of added) out.push({ part: "plan", id: p.id, op: "add", summary: `+ plan ${p.id} (${text(p)})`, details: [] });
  for (const [a, b] of kept) {
    const details = fieldChanges(a, b, [
      ["kind", (p) => p.kind],
      ["cpus", (p) => p.cpus],
      ["memory GB", (p) => p.memoryGb],
      ["disk GB", (p) => p.diskGb],
      ["price EUR/month", (p) => p.priceEurMonth],
    ]);
    if (details.length > 0) out.push({ part: "plan", id: b.id, op: "change", summary: `~ plan ${b.id}: ${details.join(", ")}`, details: [] });
  }
  for (const p of removed) out.push({ part: "plan", id: p.id, op: "remove", summary: `- plan ${p.id}`, details: [] });
  return out;
}

function recordText(r: DnsRecord): string {
  const data = typeof r.data === "string" ? r.data : Array.isArray(r.data) ? r.data.map((s) => JSON.stringify(s)).join(" ") : Object.values(r.data).join(" ");
  return `${r.name} ${r.type} ${data}`;
}

function dnsChanges(base: DatacenterPlan | undefined, head: DatacenterPlan | undefined): DatacenterChange[] {
  // SOA serials are a hash of the records; they change whenever a record does, so leave them out.
  const records = (plan: DatacenterPlan | undefined, origin: string) =>
    new Set((plan?.zones.find((z) => z.origin === origin)?.records ?? []).filter((r) => r.type !== "SOA").map(recordText));
  const origins = [...new Set([...(head?.zones ?? []), ...(base?.zones ?? [])].map((z) => z.origin))];
  const out: DatacenterChange[] = [];
  for (const origin of origins) {
    const a = records(base, origin);
    const b = records(head, origin);
    const plus = [...b].filter((r) => !a.has(r));
    const minus = [...a].filter((r) => !b.has(r));
    if (plus.length === 0 && minus.length === 0) continue;
    const op = a.size === 0 ? "add" : b.size === 0 ? "remove" : "change";
    const counts = [plus.length ? `${plus.length} record${plus.length === 1 ? "" : "s"} added` : "", minus.length ? `${minus.length} removed` : ""]
      .filter(Boolean)
      .join(", ");
    out.push({
      part: "dns",
      id: origin,
      op,
      summary: `${op === "add" ? "+" : op === "remove" ? "-" : "~"} zone ${origin}: ${counts}`,
      details: [...plus.map((r) => `+ ${r}`), ...minus.map((r) => `- ${r}`)],
    });
  }
  return out;
}

function datacenterChanges(base: DatacenterSpec | undefined, head: DatacenterSpec | undefined): DatacenterChange[] {
  if (!base || !head) return [];
  const details = fieldChanges(base, head, [
    ["name", (s) => s.name],
    ["domain", (s) => s.domain],
    ["cpu overcommit", (s) => s.cpuOvercommit],
    ["publish address", (s) => s.docker.publishAddress],
    ["base port", (s) => s.docker.basePort],
    ["operator CIDR", (s) => s.docker.operatorCidr],
  ]);
  // Blocks this diff does not model field by field (target settings, reliability overrides,
  // descriptions): name the block, never its values.
  const covered = new Set(["name", "domain", "cpuOvercommit", "docker", "feeds", "racks", "hosts", "plans", "networks", "services"]);
  const a = base as Readonly<Record<string, unknown>>;
  const b = head as Readonly<Record<string, unknown>>;
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !covered.has(k)).sort()) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) details.push(`${key} ${!(key in a) ? "added" : !(key in b) ? "removed" : "changed"}`);
  }
  return details.length ? [{ part: "datacenter", id: head.name, op: "change", summary: `~ datacenter ${head.name}: ${details.join(", ")}`, details: [] }] : [];
}

function moves(base: DatacenterPlan | undefined, head: DatacenterPlan | undefined): ReplicaMove[] {
  if (!base || !head) return [];
  const was = new Map(base.replicas.map((r) => [r.id, r]));
  const stateful = new Set(head.services.filter((s) => s.stateful).map((s) => s.id));
  const out: ReplicaMove[] = [];
  for (const r of head.replicas) {
    const old = was.get(r.id);
    if (!old || old.host === r.host) continue;
    out.push({
      replica: r.id,
      service: r.service,
      stateful: stateful.has(r.service),
      from: { host: old.host, rack: old.rack, feeds: old.feeds },
      to: { host: r.host, rack: r.rack, feeds: r.feeds },
    });
  }
  return out;
}

function capacity(h: PlannedHost): HostCapacity {
  return {
    cpus: { used: h.allocated.cpus, limit: h.cpuLimit },
    memoryGb: { used: h.allocated.memoryGb, limit: h.capacity.memoryGb },
    diskGb: { used: h.allocated.diskGb, limit: h.capacity.diskGb },
    replicas: h.replicas.length,
  };
}

function headroom(base: DatacenterPlan | undefined, head: DatacenterPlan | undefined): HostHeadroom[] {
  const { added, removed, kept } = matchById(base?.hosts ?? [], head?.hosts ?? []);
  const byId = new Map<string, HostHeadroom>();
  for (const h of added) byId.set(h.id, { host: h.id, after: capacity(h), changed: true });
  for (const [a, b] of kept) {
    const before = capacity(a);
    const after = capacity(b);
    byId.set(b.id, { host: b.id, before, after, changed: JSON.stringify(before) !== JSON.stringify(after) });
  }
  const order = (head?.hosts ?? []).map((h) => byId.get(h.id)!);
  return [...order, ...removed.map((h) => ({ host: h.id, before: capacity(h), changed: true }))];
}

/** The datacenter-level diff of `base` → `head`; either side may be absent (a new or deleted stack). */
export function diffDatacenters(base: Side | undefined, head: Side | undefined, options: DiffOptions = {}): DatacenterDiff {
  const changes: DatacenterChange[] = [
    ...datacenterChanges(base?.spec, head?.spec),
    ...feedChanges(base?.spec, head?.spec, base?.plan),
    ...rackChanges(base?.spec, head?.spec),
    ...hostChanges(base, head),
    ...planChanges(base?.spec, head?.spec),
    ...networkChanges(base?.plan, head?.plan),
    ...serviceChanges(base, head),
    ...dnsChanges(base?.plan, head?.plan),
  ];
  const moved = moves(base?.plan, head?.plan);
  const renumbered = base && head ? renumberings(base.plan, head.plan) : [];
  const redundancy = compareRedundancy(options.redundancy, base, head);
  return {
    datacenter: { ...(base ? { before: base.spec.name } : {}), ...(head ? { after: head.spec.name } : {}) },
    empty: changes.length === 0 && moved.length === 0 && renumbered.length === 0,
    changes,
    moves: moved,
    renumbered,
    redundancy,
    headroom: headroom(base?.plan, head?.plan),
    notes: (head?.plan.notes ?? []).map((n) => `${formatPath(n.path)}: ${n.message}`),
  };
}
