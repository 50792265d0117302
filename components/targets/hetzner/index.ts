/**
 * Building the Hetzner target for a stack: check the spec and the plan against Hetzner, read
 * the registry password secret, and fail with every problem at once, naming its config path,
 * before a single resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import type { DatacenterPlan } from "../../plan";
import { formatIssue, sortIssues } from "../../spec/issues";
import type { DatacenterSpec } from "../../spec/schema";
import { HetznerTarget } from "./HetznerTarget";
import { checkHetzner } from "./settings";

export { HetznerTarget } from "./HetznerTarget";
export { checkHetzner } from "./settings";

/** The secret holding the registry password: `pulumi config set --secret serverpark:registryPassword …`. */
export const REGISTRY_PASSWORD_KEY = "registryPassword";

export function createHetznerTarget(spec: DatacenterSpec, plan: DatacenterPlan, options: { root?: string; protectState?: boolean } = {}): HetznerTarget {
  const config = new pulumi.Config("serverpark");
  const problems: string[] = [];
  const check = checkHetzner(spec, plan);
  if (!check.ok) problems.push(...sortIssues(check.issues).map(formatIssue));
  const password = config.getSecret(REGISTRY_PASSWORD_KEY);
  if (password === undefined) {
    problems.push(
      `serverpark:${REGISTRY_PASSWORD_KEY}: is required (the registry password, as a secret): pulumi config set --secret serverpark:${REGISTRY_PASSWORD_KEY} <password>`,
    );
  }
  if (!check.ok || password === undefined) {
    throw new pulumi.RunError(
      `stack "${pulumi.getStack()}": the hetzner target has ${problems.length} problem${problems.length === 1 ? "" : "s"} (nothing was deployed):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  return new HetznerTarget({ resolution: check.resolution, registryPassword: password, ...options });
}
