/**
 * Small formatting pieces shared by the terminal renderer (`render.ts`) and the pull-request
 * comment (`comment.ts`), so both say the same thing in the same words.
 */
import type { DatacenterDiff, HostCapacity, HostHeadroom, RedundancyRow, RedundancyVerdict, ReplicaMove, Usage } from "./types";

const num = (n: number) => String(Math.round(n * 100) / 100);

export function moveText(m: ReplicaMove): string {
  const where = (l: ReplicaMove["from"]) => `${l.host} (rack ${l.rack}, feeds ${l.feeds.join("+") || "none"})`;
  return `${m.replica} moves ${where(m.from)} → ${where(m.to)}: recreated${m.stateful ? "; STATEFUL: its data volume does not follow, restore from backup" : ""}`;
}

export function verdictText(v: RedundancyVerdict | undefined): string {
  if (!v) return "—";
  return v.survives ? "survives N-1" : `fails on ${v.failures.join(", ") || "a single failure"}`;
}

export function redundancyMark(row: RedundancyRow): string {
  return row.worse ? "WORSE" : row.better ? "better" : !row.before ? "new" : !row.after ? "removed" : "";
}

const free = (u: Usage) => u.limit - u.used;

function headroomCell(before: Usage | undefined, after: Usage | undefined): string {
  const cell = (u: Usage) => `${num(free(u))}/${num(u.limit)}`;
  if (before && after) return free(before) === free(after) && before.limit === after.limit ? cell(after) : `${cell(before)} → ${cell(after)}`;
  return after ? cell(after) : before ? `${cell(before)} → gone` : "—";
}

/** Rows of the headroom table: host, free cpus, free memory, free disk (free/limit), replicas. */
export function headroomRows(rows: readonly HostHeadroom[]): string[][] {
  const pick = (c: HostCapacity | undefined, k: "cpus" | "memoryGb" | "diskGb") => c?.[k];
  return rows.map((r) => [
    r.host + (!r.before ? " (new)" : !r.after ? " (removed)" : ""),
    headroomCell(pick(r.before, "cpus"), pick(r.after, "cpus")),
    headroomCell(pick(r.before, "memoryGb"), pick(r.after, "memoryGb")),
    headroomCell(pick(r.before, "diskGb"), pick(r.after, "diskGb")),
    r.before && r.after && r.before.replicas !== r.after.replicas ? `${r.before.replicas} → ${r.after.replicas}` : String((r.after ?? r.before)!.replicas),
  ]);
}

export const HEADROOM_HEADER = ["HOST", "FREE CPUS", "FREE MEMORY GB", "FREE DISK GB", "REPLICAS"] as const;

/** A host whose free capacity falls under 10% of a limit after the change. */
export function tightHosts(rows: readonly HostHeadroom[]): string[] {
  return rows
    .filter((r) => r.changed && r.after)
    .filter((r) => (["cpus", "memoryGb", "diskGb"] as const).some((k) => free(r.after![k]) < 0.1 * r.after![k].limit))
    .map((r) => r.host);
}

/** "1 host added, 2 services changed, …" — the one-line count of a diff. */
export function countLine(diff: DatacenterDiff): string {
  if (diff.empty) return "no datacenter changes";
  const counts = new Map<string, number>();
  const noun: Record<string, string> = {
    feed: "feed",
    rack: "rack",
    host: "host",
    plan: "plan",
    network: "network",
    service: "service",
    dns: "DNS zone",
    datacenter: "datacenter setting",
  };
  const verb = { add: "added", remove: "removed", change: "changed" } as const;
  for (const c of diff.changes) {
    const key = `${c.part}\u0000${c.op}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const parts = [...counts].map(([key, n]) => {
    const [part, op] = key.split("\u0000") as [string, keyof typeof verb];
    return `${n} ${noun[part]}${n === 1 ? "" : "s"} ${verb[op]}`;
  });
  if (diff.moves.length) parts.push(`${diff.moves.length} replica${diff.moves.length === 1 ? "" : "s"} MOVED`);
  if (diff.renumbered.length) parts.push(`${diff.renumbered.length} address${diff.renumbered.length === 1 ? "" : "es"} renumbered`);
  return parts.join(", ");
}

/** The redundancy drops of a diff, one line each. */
export function redundancyDrops(diff: DatacenterDiff): string[] {
  return diff.redundancy.rows.filter((r) => r.worse).map((r) => `${r.service}: ${verdictText(r.before)} → ${verdictText(r.after)}`);
}
