/**
 * The Pulumi program, as a function: read the stack config, validate it, plan, and build the
 * `Datacenter` through the stack's target. Any problem stops the program with one message
 * listing every issue (a `RunError`: no stack trace) before a single resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { Datacenter } from "./Datacenter";
import { tryPlanDatacenter, type DatacenterPlan } from "./plan";
import { lockPathFor, readLock, writeLock } from "./plan/lock";
import { findProjectRoot } from "./spec/load";
import { formatIssue, sortIssues, type SpecIssue } from "./spec/issues";
import type { DatacenterSpec } from "./spec/schema";
import { validateSpec } from "./spec/validate";
import { DockerTarget } from "./targets/docker/DockerTarget";
import { allocateHostPorts, type HostPorts } from "./targets/docker/hostPorts";
import { createHetznerTarget } from "./targets/hetzner";
import type { DatacenterTarget } from "./targets/target";

export const TARGETS = ["docker", "hetzner"] as const;

export interface ProgramResult {
  readonly datacenter: Datacenter;
  readonly spec: DatacenterSpec;
  readonly plan: DatacenterPlan;
}

function fail(issues: readonly SpecIssue[], what: string): never {
  const sorted = sortIssues(issues);
  throw new pulumi.RunError(
    `${what} has ${sorted.length} problem${sorted.length === 1 ? "" : "s"} (nothing was deployed):\n${sorted.map((i) => `  - ${formatIssue(i)}`).join("\n")}\n` +
      `Run \`npx serverpark validate ${pulumi.getStack()}\` to see them with line numbers.`,
  );
}

function readRawSpec(config: pulumi.Config): unknown {
  const text = config.get("datacenter");
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // a plain string: the schema reports it as "expected object"
  }
}

function makeTarget(name: string, root: string, spec: DatacenterSpec, plan: DatacenterPlan, hostPorts: HostPorts): DatacenterTarget {
  switch (name) {
    case "docker":
      return new DockerTarget({ root, hostPorts, protectState: new pulumi.Config("serverpark").getBoolean("protectState") ?? false });
    case "hetzner":
      // Checks the spec against Hetzner (and the registry secret) before any resource exists.
      return createHetznerTarget(spec, plan, { root, protectState: new pulumi.Config("serverpark").getBoolean("protectState") ?? false });
    default:
      throw new pulumi.RunError(`serverpark:target is "${name}"; expected one of: ${TARGETS.join(", ")}`);
  }
}

/** Marks a stack trace Pulumi asked for but nobody will read (see skipUnreadPromiseStacks). */
export const UNRECORDED_PROMISE_STACK = "(stack not recorded: set PULUMI_DEBUG_PROMISE_LEAKS=1 to record where this promise was created)";

let skippingPromiseStacks = false;

/**
 * Pulumi's runtime records `new Error().stack` on every promise it creates (4 per property of
 * every resource, through `debuggablePromise`), and prints those stacks only when the
 * program leaks promises *and* PULUMI_DEBUG_PROMISE_LEAKS is set. Under ts-node or tsx each
 * of those stacks is formatted through source maps (~100 µs each), which was about half of
 * the program's time at 1,000 hosts (bench/program/README.md). Unless the variable is set,
 * this formats exactly those traces — the ones whose top frame is Pulumi's
 * `debuggablePromise` — as a fixed note; every other stack (our errors, Pulumi's
 * resource source positions) still goes through the source-mapping formatter untouched.
 * Hand-written because no library does this: it is a wrapper around `Error.prepareStackTrace`.
 */
export function skipUnreadPromiseStacks(env: NodeJS.ProcessEnv = process.env): boolean {
  if (skippingPromiseStacks || env.PULUMI_DEBUG_PROMISE_LEAKS) return skippingPromiseStacks;
  const format = Error.prepareStackTrace;
  Error.prepareStackTrace = (error, callsites) => {
    const top = callsites[0];
    if (top && top.getFunctionName() === "debuggablePromise" && /[\\/]@pulumi[\\/]pulumi[\\/]runtime[\\/]debuggable\.js$/.test(top.getFileName() ?? "")) {
      return `Error\n    ${UNRECORDED_PROMISE_STACK}`;
    }
    // V8's own format when nobody installed a formatter (no source maps).
    return format ? format(error, callsites) : `${String(error)}${callsites.map((c) => `\n    at ${String(c)}`).join("")}`;
  };
  skippingPromiseStacks = true;
  return true;
}

export function runProgram(options: { root?: string } = {}): ProgramResult {
  skipUnreadPromiseStacks();
  const root = options.root ?? findProjectRoot();
  const config = new pulumi.Config("serverpark");
  const validated = validateSpec(readRawSpec(config));
  if (!validated.ok) fail(validated.issues, `stack "${pulumi.getStack()}": serverpark:datacenter`);
  const spec = validated.spec;

  const lockPath = lockPathFor(join(root, "stacks", `Pulumi.${pulumi.getStack()}.yaml`));
  let lock;
  try {
    lock = readLock(lockPath);
  } catch (e) {
    throw new pulumi.RunError((e as Error).message);
  }
  const planned = tryPlanDatacenter(spec, lock);
  if (!planned.ok) fail(planned.issues, `stack "${pulumi.getStack()}": the datacenter cannot be planned; serverpark:datacenter`);
  const plan = planned.plan;
  // Docker's host ports are computed for every stack, so that its lock file keeps them whatever the target.
  const ports = allocateHostPorts(spec.docker, plan, lock?.ports);
  if (!ports.ok) fail(ports.issues, `stack "${pulumi.getStack()}": the datacenter cannot be planned; serverpark:datacenter`);
  for (const note of plan.notes) pulumi.log.warn(formatIssue(note));
  // The lock is what keeps replicas in place next time; record it once the plan is applied.
  if (!pulumi.runtime.isDryRun()) writeLock(lockPath, { ...plan.lock, ports: ports.ports.lock });

  const target = makeTarget(config.get("target") ?? "docker", root, spec, plan, ports.ports);
  const datacenter = new Datacenter(spec.name, { spec, plan, target });
  return { datacenter, spec, plan };
}
