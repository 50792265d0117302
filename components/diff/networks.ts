/**
 * Network part of the datacenter diff: CIDR and exposure changes, members (host agents and
 * replicas) that join or leave, and existing members whose address changes ("renumbered").
 * The planner keeps addresses from the lock, so renumbering only happens when a CIDR changes
 * or a locked address no longer fits; either way a reviewer must see it.
 */
import type { DatacenterPlan, PlannedNetwork } from "../plan";
import type { DatacenterChange, Renumbering } from "./types";

type Members = ReadonlyMap<string, string>;
const membersOf = (n: PlannedNetwork | undefined): Members => new Map((n?.members ?? []).map((m) => [m.key, m.address]));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "es"}`;
/** `replica:www-0` → `www-0`, `host:h1` → `host h1`. */
const memberName = (key: string) => (key.startsWith("replica:") ? key.slice(8) : key.replace(":", " "));

export function renumberings(base: DatacenterPlan, head: DatacenterPlan): Renumbering[] {
  const out: Renumbering[] = [];
  for (const net of head.networks) {
    const before = membersOf(base.networks.find((n) => n.id === net.id));
    for (const m of net.members) {
      const was = before.get(m.key);
      if (was !== undefined && was !== m.address) out.push({ network: net.id, member: m.key, from: was, to: m.address });
    }
  }
  return out;
}

export function networkChanges(base: DatacenterPlan | undefined, head: DatacenterPlan | undefined): DatacenterChange[] {
  const baseNets = new Map((base?.networks ?? []).map((n) => [n.id, n]));
  const headIds = new Set((head?.networks ?? []).map((n) => n.id));
  const out: DatacenterChange[] = [];
  for (const net of head?.networks ?? []) {
    const old = baseNets.get(net.id);
    if (!old) {
      out.push({
        part: "network",
        id: net.id,
        op: "add",
        summary: `+ network ${net.id} ${net.cidr} (${net.exposure}, ${plural(net.members.length, "address")})`,
        details: [],
      });
      continue;
    }
    const before = membersOf(old);
    const after = membersOf(net);
    const added = net.members.filter((m) => !before.has(m.key));
    const removed = old.members.filter((m) => !after.has(m.key));
    const moved = net.members.filter((m) => before.has(m.key) && before.get(m.key) !== m.address);
    const facts = [old.cidr === net.cidr ? "CIDR unchanged" : `CIDR ${old.cidr} → ${net.cidr}`];
    if (old.exposure !== net.exposure) facts.push(`exposure ${old.exposure} → ${net.exposure}`);
    if (old.gateway !== net.gateway) facts.push(`gateway ${old.gateway} → ${net.gateway}`);
    if (added.length) facts.push(`${plural(added.length, "address")} added`);
    if (removed.length) facts.push(`${plural(removed.length, "address")} removed`);
    if (moved.length) facts.push(`${plural(moved.length, "address")} renumbered`);
    if (facts.length === 1 && old.cidr === net.cidr) continue;
    out.push({
      part: "network",
      id: net.id,
      op: "change",
      summary: `~ network ${net.id}: ${facts.join(", ")}`,
      details: [
        ...added.map((m) => `+ ${memberName(m.key)} ${m.address}`),
        ...removed.map((m) => `- ${memberName(m.key)} ${m.address}`),
        ...moved.map((m) => `~ ${memberName(m.key)} ${before.get(m.key)} → ${m.address}`),
      ],
    });
  }
  for (const old of base?.networks ?? []) {
    if (!headIds.has(old.id))
      out.push({
        part: "network",
        id: old.id,
        op: "remove",
        summary: `- network ${old.id} ${old.cidr} (${old.exposure}, ${plural(old.members.length, "address")})`,
        details: [],
      });
  }
  return out;
}
