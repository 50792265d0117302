/**
 * Service part of the datacenter diff: replicas added or removed (with their hosts), plan,
 * networks, redundancy flags, backups, the *names* of changed settings (values may be
 * secrets), and published ports that move.
 */
import type { PlannedReplica } from "../plan";
import type { ServiceSpec } from "../spec/schema";
import type { HostPorts } from "../targets/docker/hostPorts";
import { fieldChanges, matchById } from "./compare";
import type { Side } from "./redundancy";
import type { DatacenterChange } from "./types";

/** Keys whose value differs; values themselves are never shown (settings may hold secrets). */
export function changedKeys(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => (!(k in a) ? `+${k}` : !(k in b) ? `-${k}` : k));
}

export function serviceChanges(base: Side | undefined, head: Side | undefined): DatacenterChange[] {
  const replicasOf = (side: Side | undefined) => new Map((side?.plan.replicas ?? []).map((r) => [r.id, r]));
  const br = replicasOf(base);
  const hr = replicasOf(head);
  const placed = (svc: ServiceSpec, replicas: Map<string, PlannedReplica>) => [...replicas.values()].filter((r) => r.service === svc.id);
  const { added, removed, kept } = matchById(base?.spec.services ?? [], head?.spec.services ?? []);
  const out: DatacenterChange[] = [];
  for (const s of added) {
    const on = placed(s, hr).map((r) => `${r.id} on ${r.host}`);
    out.push({
      part: "service",
      id: s.id,
      op: "add",
      summary: `+ service ${s.id} (${s.role}, ${s.replicas} × ${s.plan}${on.length ? `: ${on.join(", ")}` : ""})`,
      details: [],
    });
  }
  for (const [a, b] of kept) {
    const facts: string[] = [];
    if (a.replicas !== b.replicas) facts.push(`replicas ${a.replicas} → ${b.replicas}`);
    const before = placed(a, br);
    const after = placed(b, hr);
    const beforeIds = new Set(before.map((r) => r.id));
    const afterIds = new Set(after.map((r) => r.id));
    const born = after.filter((r) => !beforeIds.has(r.id));
    const gone = before.filter((r) => !afterIds.has(r.id));
    if (born.length) facts.push(`new ${born.length === 1 ? "replica" : "replicas"} ${born.map((r) => `${r.id} on ${r.host}`).join(", ")}`);
    if (gone.length) facts.push(`${gone.length === 1 ? "replica" : "replicas"} ${gone.map((r) => `${r.id} (on ${r.host})`).join(", ")} removed`);
    facts.push(
      ...fieldChanges(a, b, [
        ["role", (s) => s.role],
        ["plan", (s) => s.plan],
        ["networks", (s) => s.networks],
        ["management", (s) => s.management],
        ["minReplicas", (s) => s.minReplicas ?? 1],
        ["redundant", (s) => s.redundant ?? s.replicas > 1],
        ["backup schedule", (s) => s.backup?.schedule],
        ["backup retention days", (s) => s.backup?.retentionDays],
        ["backup target", (s) => s.backup?.targetHost],
      ]),
    );
    const keys = changedKeys(a.settings, b.settings);
    if (keys.length) facts.push(`settings changed: ${keys.join(", ")} (values not shown)`);
    const details = publishedChanges(before, after, base?.hostPorts, head?.hostPorts);
    if (facts.length > 0 || details.length > 0) {
      out.push({ part: "service", id: b.id, op: "change", summary: `~ ${b.id}: ${facts.length ? facts.join(", ") : "published ports change"}`, details });
    }
  }
  for (const s of removed) {
    const had = placed(s, br).map((r) => `${r.id} on ${r.host}`);
    out.push({ part: "service", id: s.id, op: "remove", summary: `- service ${s.id} (${s.role}${had.length ? `: ${had.join(", ")}` : ""})`, details: [] });
  }
  return out;
}

/** Published ports of replicas on both sides that are published elsewhere now (with the Docker target's host ports, when known). */
function publishedChanges(before: readonly PlannedReplica[], after: readonly PlannedReplica[], wasPorts?: HostPorts, nowPorts?: HostPorts): string[] {
  const keyOf = (hostPorts: HostPorts | undefined) => (r: PlannedReplica) => {
    const bound = new Map((hostPorts?.byReplica.get(r.id) ?? []).map((p) => [`${p.port}/${p.protocol}`, `${p.hostAddress}:${p.hostPort} `]));
    return new Map(r.published.map((p) => [`${p.port}/${p.protocol}`, `${bound.get(`${p.port}/${p.protocol}`) ?? ""}(${p.audience})`]));
  };
  const was = new Map(before.map((r) => [r.id, keyOf(wasPorts)(r)]));
  const key = keyOf(nowPorts);
  const out: string[] = [];
  for (const r of after) {
    const old = was.get(r.id);
    if (!old) continue;
    const now = key(r);
    for (const [port, at] of now) {
      const prev = old.get(port);
      if (prev === undefined) out.push(`${r.id} ${port} now published on ${at}`);
      else if (prev !== at) out.push(`${r.id} ${port} published on ${at} (was ${prev})`);
    }
    for (const [port, at] of old) if (!now.has(port)) out.push(`${r.id} ${port} no longer published (was ${at})`);
  }
  return out;
}
