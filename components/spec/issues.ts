/**
 * A problem found in a datacenter spec, with the exact config path where it sits. Every
 * stage (schema, cross-references, placement) reports `SpecIssue`s so the user sees all of
 * them at once and fixes everything in one go.
 */

export type ConfigPath = readonly (string | number)[];

export interface SpecIssue {
  /** Path inside `serverpark:datacenter`, e.g. ["services", 2, "plan"]. */
  readonly path: ConfigPath;
  readonly message: string;
}

/** The config key the spec lives under in a stack file. */
export const SPEC_CONFIG_KEY = "serverpark:datacenter";

/** `services[2].plan` — the notation users see in every error. */
export function formatPath(path: ConfigPath): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out;
}

export function formatIssue(issue: SpecIssue): string {
  const where = formatPath(issue.path);
  return where === "" ? `${SPEC_CONFIG_KEY}: ${issue.message}` : `${SPEC_CONFIG_KEY}.${where}: ${issue.message}`;
}

/** Issues sorted by path (numerically for list indexes), so reports are stable. */
export function sortIssues(issues: readonly SpecIssue[]): SpecIssue[] {
  const key = (p: ConfigPath) => p.map((x) => (typeof x === "number" ? String(x).padStart(6, "0") : x)).join("\u0000");
  return [...issues].sort((a, b) => (key(a.path) < key(b.path) ? -1 : key(a.path) > key(b.path) ? 1 : a.message.localeCompare(b.message)));
}

/** Thrown when a spec cannot be deployed; carries every issue found. */
export class SpecError extends Error {
  readonly issues: readonly SpecIssue[];
  constructor(issues: readonly SpecIssue[], context = "the datacenter spec") {
    const sorted = sortIssues(issues);
    super(`${context} has ${sorted.length} problem${sorted.length === 1 ? "" : "s"}:\n${sorted.map((i) => `  - ${formatIssue(i)}`).join("\n")}`);
    this.name = "SpecError";
    this.issues = sorted;
  }
}
