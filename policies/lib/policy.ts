/**
 * How a Serverpark policy is declared. Every policy is a plain `@pulumi/policy` object (so
 * CrossGuard, Pulumi Cloud and our in-process evaluator read the same facts); these helpers
 * only make sure each one carries what the pack promises: a stable id (its `name`), the
 * ISO/IEC 27001:2022 Annex A controls it evidences (in `framework.specification`), a
 * severity, a one-line description and remediation steps.
 *
 * Ids are `sp-<nnn>-<slug>` and are never reused: a retired policy keeps its number in the
 * README's "Retired ids" list.
 */
import type {
  EnforcementLevel,
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  Severity,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { annexAControl, FRAMEWORK } from "./controls";
import { containersOf, type ContainerView } from "./containers";
import { datacenterModels, type DatacenterModel } from "./resources";

export type SpPolicy = ResourceValidationPolicy | StackValidationPolicy;

export const POLICY_ID = /^sp-\d{3}-[a-z0-9-]+$/;

interface Common {
  /** Stable id, `sp-<nnn>-<slug>`. */
  readonly name: string;
  /** One line: what must hold. */
  readonly description: string;
  /** Annex A control ids this policy evidences, e.g. ["A.8.20", "A.8.22"]. */
  readonly controls: readonly string[];
  readonly severity: Severity;
  readonly remediationSteps: string;
  /** @default "mandatory" */
  readonly enforcementLevel?: EnforcementLevel;
  readonly configSchema?: PolicyConfigSchema;
}

function metadata(def: Common) {
  if (!POLICY_ID.test(def.name)) throw new Error(`policy id "${def.name}" must look like sp-<nnn>-<slug>`);
  if (def.controls.length === 0) throw new Error(`policy ${def.name} names no Annex A control`);
  const titles = def.controls.map((id) => `${id} ${annexAControl(id).title}`);
  return {
    name: def.name,
    description: def.description,
    enforcementLevel: def.enforcementLevel ?? "mandatory",
    severity: def.severity,
    remediationSteps: def.remediationSteps,
    framework: { ...FRAMEWORK, specification: titles.join("; ") },
    tags: ["iso27001", ...def.controls],
    ...(def.configSchema ? { configSchema: def.configSchema } : {}),
  };
}

export function resourcePolicy(
  def: Common & { readonly validateResource: (args: ResourceValidationArgs, report: ReportViolation) => void | Promise<void> },
): ResourceValidationPolicy {
  return { ...metadata(def), validateResource: def.validateResource };
}

export function stackPolicy(
  def: Common & { readonly validateStack: (args: StackValidationArgs, report: ReportViolation) => void | Promise<void> },
): StackValidationPolicy {
  return { ...metadata(def), validateStack: def.validateStack };
}

/** The Annex A control ids a policy evidences, read back from its CrossGuard metadata. */
export function controlsOf(policy: SpPolicy): string[] {
  return policy.tags?.filter((t) => /^A\.\d+\.\d+$/.test(t)) ?? [];
}

export function isStackPolicy(policy: SpPolicy): policy is StackValidationPolicy {
  return typeof (policy as StackValidationPolicy).validateStack === "function";
}

/** A stack policy judged on the datacenter model: `report` pins every violation to the `Datacenter` resource. */
export function modelPolicy(
  def: Common & {
    readonly validateModel: (model: DatacenterModel, report: (message: string) => void, args: StackValidationArgs) => void | Promise<void>;
  },
): StackValidationPolicy {
  return stackPolicy({
    ...def,
    validateStack: async (args, report) => {
      const models = datacenterModels(args.resources);
      if (models.length === 0) return args.notApplicable("no serverpark Datacenter in this stack");
      for (const { urn, model } of models) await def.validateModel(model, (message) => report(message, urn), args);
    },
  });
}

/**
 * A resource policy for containers: Docker containers, and the containers a Hetzner server's
 * cloud-init starts (lib/containers.ts); `validateContainer` runs once per container.
 */
export function containerPolicy(
  def: Common & { readonly validateContainer: (container: ContainerView, report: ReportViolation, args: ResourceValidationArgs) => void },
): ResourceValidationPolicy {
  return resourcePolicy({
    ...def,
    validateResource: async (args, report) => {
      const containers = await containersOf(args);
      if (!containers) return args.notApplicable("starts no container (applies to Docker containers and the units the Hetzner deployment copies)");
      for (const c of containers) def.validateContainer(c, report, args);
    },
  });
}
