/**
 * The datacenter diff as terminal text (`serverpark diff`): loud lines first (moves,
 * redundancy drops), then every change, then the redundancy and headroom tables.
 */
import { countLine, HEADROOM_HEADER, headroomRows, moveText, redundancyDrops, redundancyMark, verdictText } from "./format";
import type { DatacenterDiff } from "./types";

/** Aligned columns; the last one is not padded. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function renderDiffText(diff: DatacenterDiff, title: string): string {
  const out: string[] = [`${title}: ${countLine(diff)}`];
  if (diff.moves.length) {
    out.push("", "!! REPLICAS MOVE — the planner only moves a locked replica when it must (its host left or no longer fits):");
    for (const m of diff.moves) out.push(`!!   ${moveText(m)}`);
  }
  const drops = redundancyDrops(diff);
  if (drops.length) {
    out.push("", "!! REDUNDANCY DROPS (N-1):");
    for (const d of drops) out.push(`!!   ${d}`);
  }
  if (diff.changes.length) {
    out.push("", "Changes:");
    for (const c of diff.changes) {
      out.push(`  ${c.summary}`);
      for (const d of c.details) out.push(`      ${d}`);
    }
  }
  out.push("", `Redundancy before → after (${diff.redundancy.available ? diff.redundancy.source : `unavailable: ${diff.redundancy.reason}`}):`);
  if (diff.redundancy.rows.length) {
    const rows = diff.redundancy.rows.map((r) => [r.service, verdictText(r.before), verdictText(r.after), redundancyMark(r)]);
    out.push(...textTable(["SERVICE", "BEFORE", "AFTER", ""], rows).map((l) => `  ${l}`));
  }
  if (diff.headroom.length) {
    out.push("", "Capacity headroom per host (free/limit, before → after):");
    out.push(...textTable(HEADROOM_HEADER, headroomRows(diff.headroom)).map((l) => `  ${l}`));
  }
  for (const n of diff.notes) out.push(`note: ${n}`);
  return out.join("\n");
}
