import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { EXIT, UsageError, type CliCommand } from "../command";
import { locate, StackProblems } from "../stack";
import { diffDatacenters, type Side } from "../../components/diff/datacenter";
import { defaultRedundancyModel } from "../../components/diff/power";
import { renderDiffText } from "../../components/diff/render";
import type { DatacenterDiff } from "../../components/diff/types";
import { tryPlanDatacenter } from "../../components/plan";
import { allocateHostPorts } from "../../components/targets/docker/hostPorts";
import { lockPathFor, parseLock } from "../../components/plan/lock";
import { SPEC_CONFIG_KEY } from "../../components/spec/issues";
import { parseStackFile, resolveStackFile, StackFileError } from "../../components/spec/load";
import { validateSpec } from "../../components/spec/validate";

/** A loaded side: its spec and plan, or nothing when the stack does not exist there. */
export interface LoadedSide {
  /** What the user sees, e.g. `stacks/Pulumi.local.yaml` or `origin/main:stacks/Pulumi.local.yaml`. */
  readonly label: string;
  readonly stack: string;
  readonly side?: Side;
  /** The raw `config:` mapping, kept to find values that must never be printed. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Why the side could not be planned, when the caller tolerates that (see `LoadOptions`). */
  readonly problem?: string;
}

export interface LoadOptions {
  /**
   * A side that cannot be planned comes back with `problem` set instead of failing: a base
   * the head's code no longer reads (the schema moved on), or a head with mistakes — a
   * pull-request comment can still say so, with the preview and policies it has.
   */
  readonly tolerateProblems?: boolean;
}

function tolerant(load: () => LoadedSide, label: string, stack: string, tolerate: boolean | undefined): LoadedSide {
  try {
    return load();
  } catch (e) {
    if (!tolerate || !(e instanceof StackProblems)) throw e;
    return { label, stack, problem: e.message };
  }
}

/** Validates and plans a stack file's text with its lock's text (each side uses its own lock). */
export function sideFromText(text: string, path: string, lockText: string | undefined, label: string, cwd: string): LoadedSide {
  const file = parseStackFile(text, path);
  // Role settings are left to `serverpark validate` (the preview workflow runs it): the diff
  // shows what a change does even while one of its settings is wrong.
  const validated = validateSpec(file.config[SPEC_CONFIG_KEY], { roleSettings: false });
  if (!validated.ok) throw new StackProblems(label, locate(file, validated.issues, cwd), "the datacenter spec");
  const lock = lockText === undefined ? undefined : parseLock(lockText, `${label.replace(/\.ya?ml$/, "")}.lock.json`);
  const planned = tryPlanDatacenter(validated.spec, lock);
  if (!planned.ok) throw new StackProblems(label, locate(file, planned.issues, cwd), "the datacenter plan");
  const ports = allocateHostPorts(validated.spec.docker, planned.plan, lock?.ports);
  if (!ports.ok) throw new StackProblems(label, locate(file, ports.issues, cwd), "the datacenter plan");
  return { label, stack: file.stack, side: { spec: validated.spec, plan: planned.plan, hostPorts: ports.ports }, config: file.config };
}

export function sideFromFile(nameOrPath: string, cwd: string): LoadedSide {
  const path = resolveStackFile(nameOrPath, cwd);
  const lockPath = lockPathFor(path);
  const label = relative(cwd, path) || path;
  return sideFromText(readFileSync(path, "utf8"), path, existsSync(lockPath) ? readFileSync(lockPath, "utf8") : undefined, label, cwd);
}

function git(args: string[], cwd: string): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

/** The file at `ref:path`, or undefined when it does not exist at that ref. */
function gitShow(ref: string, repoPath: string, top: string): string | undefined {
  try {
    return git(["show", `${ref}:${repoPath}`], top);
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? "");
    if (/does not exist|exists on disk, but not in|path .* not in/i.test(stderr)) return undefined;
    throw new Error(`git show ${ref}:${repoPath} failed: ${stderr.trim() || (e as Error).message}`);
  }
}

/** Both sides of `--git BASE..HEAD` for one stack; a side where the file is missing is empty. */
export function sidesFromGit(range: string, nameOrPath: string, cwd: string, options: LoadOptions = {}): [LoadedSide, LoadedSide] {
  const at = range.indexOf("..");
  const refs = at > 0 ? [range.slice(0, at), range.slice(at + 2)] : [];
  if (refs.length !== 2 || refs[1] === "" || refs[1]!.startsWith(".")) throw new UsageError(`--git expects BASE..HEAD (two refs), got "${range}"`);
  let top: string;
  try {
    top = git(["rev-parse", "--show-toplevel"], cwd).trim();
  } catch {
    throw new UsageError("--git needs a git work tree");
  }
  for (const ref of refs) {
    try {
      git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], top);
    } catch {
      throw new UsageError(`--git: "${ref}" is not a commit in this repository (for a pull request, fetch the base branch first)`);
    }
  }
  // The stack file path as git knows it (relative to the repository's top, forward slashes).
  const abs = /\.ya?ml$/.test(nameOrPath) || nameOrPath.includes("/") ? resolve(cwd, nameOrPath) : resolve(top, "stacks", `Pulumi.${nameOrPath}.yaml`);
  const repoPath = relative(top, abs).split("\\").join("/");
  const stack = /Pulumi\.([^/]+)\.ya?ml$/.exec(repoPath)?.[1] ?? nameOrPath;
  const sides = refs.map((ref, i): LoadedSide => {
    const text = gitShow(ref, repoPath, top);
    const label = `${ref}:${repoPath}`;
    if (text === undefined) return { label, stack };
    return tolerant(() => sideFromText(text, abs, gitShow(ref, lockPathFor(repoPath), top), label, cwd), label, stack, options.tolerateProblems);
  });
  if (!sides[0]!.side && !sides[1]!.side) throw new StackFileError(`${repoPath} exists at neither ${refs[0]} nor ${refs[1]}`);
  return [sides[0]!, sides[1]!];
}

/** Reads the two sides named on a diff-like command line: two files, or one stack with --git. */
export function loadSides(values: Record<string, unknown>, positionals: string[], cwd: string, options: LoadOptions = {}): [LoadedSide, LoadedSide] {
  const range = values.git;
  if (typeof range === "string") {
    if (positionals.length !== 1) throw new UsageError("with --git give exactly one stack (name or config file)");
    return sidesFromGit(range, positionals[0]!, cwd, options);
  }
  if (positionals.length !== 2) throw new UsageError("give two stack config files (base and head), or --git BASE..HEAD and one stack");
  const [base, head] = positionals.map((p) => tolerant(() => sideFromFile(p, cwd), p, /Pulumi\.([^/\\]+)\.ya?ml$/.exec(p)?.[1] ?? p, options.tolerateProblems));
  return [base!, head!];
}

export function computeDiff(base: LoadedSide, head: LoadedSide): DatacenterDiff {
  return diffDatacenters(base.side, head.side, { redundancy: defaultRedundancyModel() });
}

export const command: CliCommand = {
  name: "diff",
  summary: "show what changes in the datacenter between two versions of a stack",
  usage: `Usage: serverpark diff <base-config> <head-config> [--json]
       serverpark diff --git BASE..HEAD <stack> [--json]

Compares two versions of a stack at the level of the datacenter: feeds, racks, hosts,
plans, networks, services, replicas and DNS added, removed or changed; replicas that MOVE
(called out loudly: they are recreated elsewhere); redundancy before and after (N-1 per
service, from the power model); and capacity headroom per host. Each side is planned with
its own lock file (stacks/Pulumi.<stack>.lock.json next to the config, or at that git ref).

Options:
  --git BASE..HEAD  read the stack's config and lock at two git refs (git show REF:path);
                    a side where the stack does not exist yet counts as empty
  --json            print the diff as JSON
Exit codes: 0 diff shown (empty or not), 1 a side has spec problems, 2 usage error.`,
  options: { json: { type: "boolean" }, git: { type: "string" } },
  positionals: { min: 1, max: 2 },
  run({ values, positionals }, io) {
    let sides: [LoadedSide, LoadedSide];
    try {
      sides = loadSides(values, positionals, io.cwd);
    } catch (e) {
      if (e instanceof StackProblems) {
        io.err(e.message);
        return EXIT.invalid;
      }
      throw e;
    }
    const [base, head] = sides;
    const diff = computeDiff(base, head);
    if (values.json === true) io.out(JSON.stringify({ stack: head.stack, base: base.label, head: head.label, ...diff }, null, 2));
    else io.out(renderDiffText(diff, `${base.label} → ${head.label}`));
    return EXIT.ok;
  },
};
