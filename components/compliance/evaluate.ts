/**
 * Evaluates policies in-process on recorded resources, with CrossGuard's semantics
 * (`@pulumi/policy` 1.21 server.js): props deserialized by @pulumi/policy's own deserializer
 * (secrets unwrapped) behind its unknown-checking proxy; resource policies get
 * `type, props, urn, name, opts, provider, stackTags, isType, asType, getConfig,
 * notApplicable`; stack policies get every resource's outputs with parent and dependencies
 * linked; enforcement level = policy config → policy → pack default, `remediate` reported as
 * `mandatory`, `disabled` skipped; an unknown value during preview turns the result into an
 * advisory "can't run during preview"; violation messages are `description\nmessage`.
 *
 * Why our own loop rather than CrossGuard's RPC handlers: those keep the policy config and
 * stack tags in module state that only the gRPC `configure` calls can set.
 */
import type {
  EnforcementLevel,
  PolicyProviderResource,
  PolicyResource,
  PolicyResourceOptions,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  Severity,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { controlsOf, type SpPolicy } from "../../policies/lib/policy";
import type { RecordedResource, SerializedProps } from "./record";

// CrossGuard's own (internal) deserializer and proxy, so policies see exactly what they see there.
const { deserializeProperties } = require("@pulumi/policy/deserialize") as {
  deserializeProperties(s: { toJavaScript(): SerializedProps }, proxySecrets: boolean): Record<string, any>;
};
const proxy = require("@pulumi/policy/proxy") as { unknownCheckingProxy<T>(v: T): T; UnknownValueError: new (...a: any[]) => Error };

/** `--policy-pack-config` file contents: policy name (or "all") → level, or {enforcementLevel, …config}. */
export type PolicyPackConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)>;

export interface Violation {
  readonly policy: string;
  readonly controls: readonly string[];
  readonly severity?: Severity;
  readonly enforcementLevel: EnforcementLevel;
  /** As CrossGuard prints it: the description, a newline, the policy's message. */
  readonly message: string;
  /** The policy's own message (what fails and how to fix it). */
  readonly detail: string;
  readonly urn?: string;
  readonly resource?: { readonly type: string; readonly name: string };
  readonly remediation?: string;
}

export interface PolicyOutcome {
  readonly policy: string;
  readonly controls: readonly string[];
  readonly enforcementLevel: EnforcementLevel;
  readonly kind: "resource" | "stack";
  /** Reasons given by `notApplicable`, one per resource (resource policies) or one (stack). */
  readonly notApplicable: readonly string[];
  readonly violations: readonly Violation[];
  /** Resources the policy actually judged (resource policies), or 1 (stack). */
  readonly checked: number;
}

export interface Evaluation {
  readonly outcomes: readonly PolicyOutcome[];
  readonly violations: readonly Violation[];
  readonly mandatoryViolations: number;
}

export interface EvaluateOptions {
  readonly config?: PolicyPackConfig;
  readonly stackTags?: ReadonlyMap<string, string> | Record<string, string>;
  /** Enforcement level of policies that set none. @default "advisory" (CrossGuard's pack default) */
  readonly packEnforcementLevel?: EnforcementLevel;
}

class NotApplicable extends Error {
  constructor(readonly reason?: string) {
    super(reason ?? "Policy does not apply");
  }
}
const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason);
};

function freeze(map: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  const copy = new Map(map);
  return Object.freeze({
    entries: copy.entries.bind(copy),
    forEach: copy.forEach.bind(copy),
    get: copy.get.bind(copy),
    has: copy.has.bind(copy),
    keys: copy.keys.bind(copy),
    size: copy.size,
    values: copy.values.bind(copy),
    [Symbol.iterator]: copy[Symbol.iterator].bind(copy),
  }) as ReadonlyMap<string, string>;
}

function levelOf(policy: SpPolicy, config: PolicyPackConfig, packLevel: EnforcementLevel): EnforcementLevel {
  const entry = config[policy.name] ?? config.all;
  const configured = typeof entry === "string" ? entry : entry?.enforcementLevel;
  return configured || policy.enforcementLevel || packLevel;
}

function configOf(policy: SpPolicy, config: PolicyPackConfig): Record<string, unknown> {
  const entry = config[policy.name];
  if (!entry || typeof entry === "string") return {};
  const { enforcementLevel: _ignored, ...rest } = entry;
  return rest;
}

const props = (serialized: SerializedProps) => proxy.unknownCheckingProxy(deserializeProperties({ toJavaScript: () => serialized }, false));

function optionsOf(r: RecordedResource): PolicyResourceOptions {
  return {
    ...r.options,
    ignoreChanges: [...r.options.ignoreChanges],
    aliases: [...r.options.aliases],
    additionalSecretOutputs: [...r.options.additionalSecretOutputs],
  };
}

function providerOf(r: RecordedResource): PolicyProviderResource | undefined {
  return r.provider ? { ...r.provider, props: {} } : undefined;
}

/** `isType`/`asType` as CrossGuard implements them: by the class's `__pulumiType`, else its `isInstance`. */
function isTypeOf(type: string, resourceClass: any): boolean {
  const pulumiType = resourceClass?.__pulumiType;
  if (typeof pulumiType === "string" && pulumiType.length > 0) return type === pulumiType;
  return typeof resourceClass?.isInstance === "function" && resourceClass.isInstance({ __pulumiType: type }) === true;
}

/** The fields resource and stack policies share, for one recorded resource's inputs or outputs. */
function policyView(r: RecordedResource, serialized: SerializedProps) {
  const p = props(serialized);
  const view = {
    type: r.type,
    props: p,
    urn: r.urn,
    name: r.name,
    opts: optionsOf(r),
    isType: (cls: any) => isTypeOf(r.type, cls),
    asType: ((cls: any) => (isTypeOf(r.type, cls) ? p : undefined)) as any,
  };
  const provider = providerOf(r);
  return provider ? { ...view, provider } : view;
}

export async function evaluatePolicies(
  policies: readonly SpPolicy[],
  resources: readonly RecordedResource[],
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const config = options.config ?? {};
  const packLevel = options.packEnforcementLevel ?? "advisory";
  const stackTags = freeze(options.stackTags instanceof Map ? options.stackTags : new Map(Object.entries(options.stackTags ?? {})));
  const outcomes: PolicyOutcome[] = [];

  for (const policy of policies) {
    let level = levelOf(policy, config, packLevel);
    if (level === "disabled") continue;
    if (level === "remediate") level = "mandatory";
    const violations: Violation[] = [];
    const na: string[] = [];
    const base = {
      policy: policy.name,
      controls: controlsOf(policy),
      severity: policy.severity,
      enforcementLevel: level,
      remediation: policy.remediationSteps,
    };
    const reporter =
      (fixedUrn: string | undefined, byUrn: Map<string, RecordedResource>): ReportViolation =>
      (message, urn) => {
        const at = fixedUrn ?? urn;
        const r = at ? byUrn.get(at) : undefined;
        violations.push({
          ...base,
          message: message ? `${policy.description}\n${message}` : policy.description,
          detail: message ?? policy.description,
          ...(at ? { urn: at } : {}),
          ...(r ? { resource: { type: r.type, name: r.name } } : {}),
        });
      };
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const unknown = (e: unknown, r?: RecordedResource) => {
      const message = `can't run policy '${policy.name}' during preview: ${(e as Error).message}`;
      violations.push({
        ...base,
        enforcementLevel: "advisory",
        message,
        detail: message,
        ...(r ? { urn: r.urn, resource: { type: r.type, name: r.name } } : {}),
      });
    };
    let checked = 0;

    if (typeof (policy as StackValidationPolicy).validateStack === "function") {
      const stack = policy as StackValidationPolicy;
      const policyResources = resources
        .filter((r) => !r.type.startsWith("pulumi:providers:"))
        .map((r): PolicyResource => ({ ...policyView(r, r.outputs), dependencies: [], propertyDependencies: {} }));
      const byPolicyUrn = new Map(policyResources.map((r) => [r.urn, r]));
      resources.forEach((r) => {
        const res = byPolicyUrn.get(r.urn);
        if (!res) return;
        if (r.options.parent && byPolicyUrn.has(r.options.parent)) res.parent = byPolicyUrn.get(r.options.parent);
        res.dependencies = r.dependencies.map((d) => byPolicyUrn.get(d)).filter((d): d is PolicyResource => d !== undefined);
        for (const [k, deps] of Object.entries(r.propertyDependencies))
          res.propertyDependencies[k] = deps.map((d) => byPolicyUrn.get(d)).filter((d): d is PolicyResource => d !== undefined);
      });
      const args: StackValidationArgs = {
        resources: policyResources,
        stackTags,
        getConfig: <T extends object>() => configOf(policy, config) as T,
        notApplicable,
      };
      checked = 1;
      try {
        await stack.validateStack(args, reporter(undefined, byUrn));
      } catch (e) {
        if (e instanceof NotApplicable) {
          checked = 0;
          na.push(e.reason ?? "not applicable");
        } else if (e instanceof proxy.UnknownValueError) unknown(e);
        else throw new Error(`policy ${policy.name} failed: ${(e as Error).stack ?? e}`);
      }
      outcomes.push({ ...base, kind: "stack", notApplicable: na, violations, checked });
      continue;
    }

    const resourcePolicy = policy as ResourceValidationPolicy;
    const validations =
      resourcePolicy.validateResource === undefined
        ? []
        : Array.isArray(resourcePolicy.validateResource)
          ? resourcePolicy.validateResource
          : [resourcePolicy.validateResource];
    for (const r of resources) {
      if (r.type.startsWith("pulumi:providers:") || r.type === "pulumi:pulumi:Stack") continue;
      let applicable = true;
      for (const validate of validations) {
        try {
          const args: ResourceValidationArgs = {
            ...policyView(r, r.inputs),
            stackTags,
            getConfig: <T extends object>() => configOf(policy, config) as T,
            notApplicable,
          };
          await validate(args, reporter(r.urn, byUrn));
        } catch (e) {
          if (e instanceof NotApplicable) {
            applicable = false;
            na.push(e.reason ?? "not applicable");
          } else if (e instanceof proxy.UnknownValueError) unknown(e, r);
          else throw new Error(`policy ${policy.name} failed on ${r.urn}: ${(e as Error).stack ?? e}`);
        }
      }
      if (applicable) checked++;
    }
    outcomes.push({ ...base, kind: "resource", notApplicable: [...new Set(na)], violations, checked });
  }
  const violations = outcomes.flatMap((o) => o.violations);
  return { outcomes, violations, mandatoryViolations: violations.filter((v) => v.enforcementLevel === "mandatory").length };
}
