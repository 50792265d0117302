/**
 * The diff cases, built from real stack files: a frozen copy of the local stack
 * (fixtures/stacks/Pulumi.base.yaml, with its lock) and edited copies next to it, each with
 * the base's lock (a pull request edits the config; only `pulumi up` rewrites the lock).
 */
import { join } from "node:path";
import { computeDiff, sideFromFile, type LoadedSide } from "../../cli/commands/diff";
import type { DatacenterDiff } from "../../components/diff/types";

export const ROOT = join(__dirname, "..", "..");
export const FIXTURES = join(__dirname, "fixtures");
export const stackPath = (name: string) => join("test", "diff", "fixtures", "stacks", `Pulumi.${name}.yaml`);

export interface DiffCase {
  readonly name: string;
  readonly base?: string;
  readonly head: string;
  /** Preview fixture under fixtures/preview/, when the case has one. */
  readonly preview?: string;
}

export const CASES: readonly DiffCase[] = [
  { name: "noop", base: "base", head: "base" },
  { name: "host-added", base: "base", head: "host-added" },
  { name: "scaled", base: "base", head: "scaled", preview: "scaled.json" },
  { name: "cidr", base: "base", head: "cidr" },
  { name: "feed-removed", base: "base", head: "feed-removed" },
  { name: "host-removed", base: "base", head: "host-removed", preview: "host-removed.json" },
  { name: "new-stack", head: "base" },
];

export function load(name: string): LoadedSide {
  return sideFromFile(stackPath(name), ROOT);
}

export function diffOf(c: DiffCase): { base: LoadedSide; head: LoadedSide; diff: DatacenterDiff } {
  const head = load(c.head);
  const base = c.base ? load(c.base) : { label: "(none)", stack: head.stack };
  return { base, head, diff: computeDiff(base, head) };
}
