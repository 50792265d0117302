/**
 * A.8.32 Change management: data survives changes. In production stacks every stateful
 * resource is `protect`ed, so a preview that would delete or replace it fails in the engine;
 * and no plan may move a replica of a stateful service (moving it means a new volume on
 * another host: the data would be left behind).
 *
 * A stack is production when its stack tag `serverpark:environment` (or `environment`) is
 * `production`, or when the policy config says `production: true`.
 */
import type { ResourceValidationArgs } from "@pulumi/policy";
import { ROLE_INFO, type Role } from "../../contracts/roles";
import { modelPolicy, resourcePolicy } from "../lib/policy";
import { describeResource, servicePath, TYPES } from "../lib/resources";

export function isProduction(stackTags: ReadonlyMap<string, string>, config: { production?: boolean }): boolean {
  if (config.production !== undefined) return config.production;
  const env = (stackTags.get("serverpark:environment") ?? stackTags.get("environment") ?? "").toLowerCase();
  return env === "production" || env === "prod";
}

/** Resource types that hold data: deleting or replacing them loses it. */
const STATEFUL_TYPES = new Set<string>([TYPES.volume, TYPES.hcloudVolume]);

export const protectStateful = resourcePolicy({
  name: "sp-511-protect-stateful-resources",
  description: "In production stacks, volumes (Docker and Hetzner Cloud) are protected, so no preview can delete or replace them.",
  controls: ["A.8.32"],
  severity: "critical",
  remediationSteps: "Set `serverpark:protectState: true` in the stack config (the target then creates data volumes with `protect: true`).",
  configSchema: { properties: { production: { type: "boolean", description: "treat the stack as production regardless of its tags" } } },
  validateResource: (args: ResourceValidationArgs, report) => {
    if (!STATEFUL_TYPES.has(args.type)) return args.notApplicable("not a stateful resource type");
    if (!isProduction(args.stackTags, args.getConfig<{ production?: boolean }>()))
      return args.notApplicable("not a production stack (stack tag serverpark:environment is not production)");
    if (args.opts.protect !== true) {
      report(
        `${describeResource(args.type, args.name, args.props)} holds data in a production stack but is not protected: a replace or delete in a preview would destroy it. Fix: set serverpark:protectState: true.`,
      );
    }
  },
});

export const noStatefulMove = modelPolicy({
  name: "sp-512-no-stateful-replica-move",
  description: "No change moves a replica of a stateful service (mail, file, db) to another host, which would replace its volume.",
  controls: ["A.8.32"],
  severity: "critical",
  remediationSteps:
    "Keep the replica's host (restore the host or its capacity, or keep the lock file's placement); migrate the data with a backup and restore before moving it deliberately.",
  validateModel: (model, report) => {
    const stateful = new Set(model.plan.services.filter((s) => ROLE_INFO[s.role as Role]?.stateful).map((s) => s.id));
    for (const note of model.plan.notes) {
      const moved = /replica (\S+) MOVES/.exec(note.message)?.[1];
      const service = moved && model.plan.replicas.find((r) => r.id === moved)?.service;
      if (service && stateful.has(service)) {
        report(
          `${servicePath(model.spec, service)}: ${note.message} — its data volume would be replaced and the data left behind. Fix: keep the replica on its host, or migrate the data first.`,
        );
      }
    }
  },
});

export const CHANGE_POLICIES = [protectStateful, noStatefulMove];
