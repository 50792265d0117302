/**
 * Loading a stack for a CLI command: config file → spec → plan, with every problem printed
 * as `file:line:col: path: message` so editors can jump to it.
 */
import { relative } from "node:path";
import { tryPlanDatacenter, type DatacenterPlan } from "../components/plan";
import { lockPathFor, readLock, type StackLock } from "../components/plan/lock";
import { formatPath, sortIssues, SPEC_CONFIG_KEY, type SpecIssue } from "../components/spec/issues";
import { loadStackFile, type StackFile } from "../components/spec/load";
import type { DatacenterSpec } from "../components/spec/schema";
import { validateSpec } from "../components/spec/validate";
import { allocateHostPorts, type HostPorts } from "../components/targets/docker/hostPorts";

export interface LocatedIssue extends SpecIssue {
  readonly at: string;
  readonly line?: number;
  readonly col?: number;
}

/** A stack that failed to load; `issues` are located in the file. */
export class StackProblems extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly LocatedIssue[],
    what: string,
  ) {
    super(
      `${file}: ${what} has ${issues.length} problem${issues.length === 1 ? "" : "s"}:\n${issues.map((i) => `  ${i.at}: ${SPEC_CONFIG_KEY}${i.path.length ? "." + formatPath(i.path) : ""}: ${i.message}`).join("\n")}`,
    );
    this.name = "StackProblems";
  }
}

export function locate(file: StackFile, issues: readonly SpecIssue[], cwd: string): LocatedIssue[] {
  const shown = relative(cwd, file.path) || file.path;
  return sortIssues(issues).map((issue) => {
    const pos = file.locate(issue.path);
    return { ...issue, at: pos ? `${shown}:${pos.line}:${pos.col}` : shown, ...(pos ? { line: pos.line, col: pos.col } : {}) };
  });
}

export interface LoadedStack {
  readonly file: StackFile;
  readonly spec: DatacenterSpec;
}

export function loadSpec(nameOrPath: string, cwd: string): LoadedStack {
  const file = loadStackFile(nameOrPath, cwd);
  const result = validateSpec(file.config[SPEC_CONFIG_KEY]);
  if (!result.ok) throw new StackProblems(relative(cwd, file.path) || file.path, locate(file, result.issues, cwd), "the datacenter spec");
  return { file, spec: result.spec };
}

export interface PlannedStack extends LoadedStack {
  readonly plan: DatacenterPlan;
  /** The Docker target's host ports for the published ports (kept in the lock file). */
  readonly hostPorts: HostPorts;
  /** What `--write-lock` and `pulumi up` record: the plan's lock and the host ports. */
  readonly lock: StackLock;
  readonly lockPath: string;
}

export function loadPlan(nameOrPath: string, cwd: string, options: { ignoreLock?: boolean } = {}): PlannedStack {
  const { file, spec } = loadSpec(nameOrPath, cwd);
  const lockPath = lockPathFor(file.path);
  const lock = options.ignoreLock ? undefined : readLock(lockPath);
  const result = tryPlanDatacenter(spec, lock);
  const ports = result.ok ? allocateHostPorts(spec.docker, result.plan, lock?.ports) : undefined;
  const issues = !result.ok ? result.issues : ports && !ports.ok ? ports.issues : [];
  if (!result.ok || !ports?.ok) throw new StackProblems(relative(cwd, file.path) || file.path, locate(file, issues, cwd), "the datacenter plan");
  return { file, spec, plan: result.plan, hostPorts: ports.ports, lock: { ...result.plan.lock, ports: ports.ports.lock }, lockPath };
}

/** Renders rows as an aligned text table with a header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
