/**
 * Comparing two versions of a list or a record, field by field, in the words the diff uses
 * (`cpus 16 → 32`). Shared by every part of the datacenter diff.
 */

/** Items of two lists matched by id: in head order, then the removed ones in base order. */
export function matchById<T extends { readonly id: string }>(base: readonly T[], head: readonly T[]): { added: T[]; removed: T[]; kept: [T, T][] } {
  const b = new Map(base.map((x) => [x.id, x]));
  const h = new Set(head.map((x) => x.id));
  const kept: [T, T][] = [];
  const added: T[] = [];
  for (const x of head) {
    const was = b.get(x.id);
    if (was) kept.push([was, x]);
    else added.push(x);
  }
  return { added, removed: base.filter((x) => !h.has(x.id)), kept };
}

export const num = (n: number) => String(Math.round(n * 100) / 100);
export const cpus = (n: number) => `${num(n)} ${n === 1 ? "cpu" : "cpus"}`;
export const feedsText = (feeds: readonly string[]) => (feeds.length === 0 ? "no feed" : `${feeds.length === 1 ? "feed" : "feeds"} ${feeds.join("+")}`);

/** `label a → b` for every field whose formatted value differs. */
export function fieldChanges<T>(before: T, after: T, fields: readonly (readonly [string, (x: T) => unknown])[]): string[] {
  const out: string[] = [];
  for (const [label, get] of fields) {
    const a = show(get(before));
    const b = show(get(after));
    if (a !== b) out.push(`${label} ${a} → ${b}`);
  }
  return out;
}

export function show(v: unknown): string {
  if (v === undefined || v === null) return "none";
  if (typeof v === "number") return num(v);
  if (Array.isArray(v)) return v.length === 0 ? "none" : v.map(show).join("+");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
