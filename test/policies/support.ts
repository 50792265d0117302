/**
 * Fixtures for policy tests: resources shaped as CrossGuard hands them to policies. Every
 * helper goes through the pack's in-process evaluator, which deserializes with
 * @pulumi/policy's own code and builds `ResourceValidationArgs` / `StackValidationArgs`
 * exactly as CrossGuard 1.21 does — so a policy passing here passes under `pulumi preview`.
 */
import type { EnforcementLevel } from "@pulumi/policy";
import { planDatacenter } from "../../components/plan";
import { readLock } from "../../components/plan/lock";
import { loadStackFile } from "../../components/spec/load";
import type { DatacenterSpec, DatacenterSpecInput } from "../../components/spec/schema";
import { validateSpec } from "../../components/spec/validate";
import type { SpPolicy } from "../../policies/lib/policy";
import { evaluatePolicies, type PolicyOutcome } from "../../components/compliance/evaluate";
import type { RecordedResource, RecordedOptions } from "../../components/compliance/record";

export interface FixtureResource {
  readonly type: string;
  readonly name?: string;
  readonly props: Record<string, unknown>;
  readonly opts?: Partial<RecordedOptions>;
}

const STACK = "fixture";

export function recorded(r: FixtureResource, i = 0): RecordedResource {
  const name = r.name ?? `res-${i}`;
  const serialized = JSON.parse(JSON.stringify(r.props)) as Record<string, unknown>;
  return {
    type: r.type,
    name,
    urn: `urn:pulumi:${STACK}::serverpark::${r.type}::${name}`,
    custom: !r.type.startsWith("serverpark:"),
    inputs: serialized,
    outputs: serialized,
    options: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
      ...r.opts,
    },
    dependencies: [],
    propertyDependencies: {},
  };
}

export interface RunOptions {
  readonly config?: Record<string, unknown>;
  readonly stackTags?: Record<string, string>;
}

/** Runs one policy on the resources; returns its outcome (violations, notApplicable, checked). */
export async function runPolicy(policy: SpPolicy, resources: readonly FixtureResource[], options: RunOptions = {}): Promise<PolicyOutcome> {
  const evaluation = await evaluatePolicies([policy], resources.map(recorded), {
    config: options.config ? { [policy.name]: { enforcementLevel: "mandatory" as EnforcementLevel, ...options.config } } : {},
    stackTags: options.stackTags ?? {},
    packEnforcementLevel: "mandatory",
  });
  return evaluation.outcomes[0]!;
}

/** The messages a policy reports. */
export async function messages(policy: SpPolicy, resources: readonly FixtureResource[], options: RunOptions = {}): Promise<string[]> {
  return (await runPolicy(policy, resources, options)).violations.map((v) => v.detail);
}

// ---- the datacenter model, from the local stack's spec -------------------------------------

export function localSpecInput(): DatacenterSpecInput {
  return structuredClone(loadStackFile("local").config["serverpark:datacenter"]) as DatacenterSpecInput;
}

/** A `Datacenter` component as stack policies see it: its registered `model` output. */
export function datacenterResource(input: DatacenterSpecInput, options: { useLock?: boolean } = {}): FixtureResource {
  // Settings no role accepts (plaintext TLS, passwords in settings) must still reach the
  // policies: they judge the resources, whatever produced them.
  const result = validateSpec(input, { roleSettings: false });
  if (!result.ok) throw new Error(`fixture spec is invalid: ${JSON.stringify(result.issues)}`);
  const spec: DatacenterSpec = result.spec;
  const lock = options.useLock === false ? undefined : readLock(`${process.cwd()}/stacks/Pulumi.local.lock.json`);
  const plan = planDatacenter(spec, lock);
  return { type: "serverpark:index:Datacenter", name: spec.name, props: { model: { spec, plan, target: "docker" } } };
}

/** The local spec with a change applied. */
export function withSpec(change: (spec: any) => void): DatacenterSpecInput {
  const spec = localSpecInput();
  change(spec);
  return spec;
}

/** A container as the Docker target creates it (the hardened defaults), with overrides. */
export function container(role: string, overrides: Record<string, unknown> = {}): FixtureResource {
  return {
    type: "docker:index/container:Container",
    name: `fra1-svc-x-0`,
    props: {
      name: `fra1-${role}-0`,
      image: `serverpark/${role}:0.1.0-abcdefabcdef`,
      labels: [
        { label: "serverpark.datacenter", value: "fra1" },
        { label: "serverpark.role", value: role },
        { label: "serverpark.version", value: "0.1.0" },
        { label: "serverpark.replica", value: `${role}-0` },
        { label: "serverpark.service", value: role },
      ],
      user: "1000:1000",
      capabilities: { drops: ["ALL"] },
      memory: 512,
      cpuPeriod: 100000,
      cpuQuota: 100000,
      logDriver: "json-file",
      logOpts: { "max-size": "10m", "max-file": "3" },
      healthcheck: { tests: ["CMD", "node", "/app/healthcheck.mjs"], interval: "10s" },
      networksAdvanced: [{ name: "fra1-private" }],
      ...overrides,
    },
  };
}
