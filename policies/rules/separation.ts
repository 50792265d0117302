/**
 * A.8.31 Separation of development, test and production environments: each stack is its own
 * datacenter, so nothing one stack creates can be taken for another's. Every network, volume
 * and container a stack runs is named and labelled with its own datacenter, and no other stack
 * of the project (stacks/Pulumi.<stack>.yaml) uses the same datacenter name — two stacks with
 * one name would share networks, volumes and generated secrets' containers on one engine.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { stackPolicy } from "../lib/policy";
import { datacenterModels, describeResource, serverparkLabels, TYPES } from "../lib/resources";

const SCOPED = [TYPES.container, TYPES.network, TYPES.volume, TYPES.hcloudServer, TYPES.hcloudVolume] as const;

/** The pack lives in the repository it checks: policies/rules/../.. */
const PROJECT_ROOT = resolve(__dirname, "..", "..");

/** Datacenter names of the project's other stacks, by stack name. */
export function otherStacksDatacenters(root: string, stack: string): Map<string, string> {
  const dir = join(root, "stacks");
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)) {
    const m = /^Pulumi\.(.+)\.yaml$/.exec(f);
    if (!m || m[1] === stack) continue;
    const config = (parse(readFileSync(join(dir, f), "utf8")) as { config?: Record<string, { name?: unknown }> } | null)?.config;
    const name = config?.["serverpark:datacenter"]?.name;
    if (typeof name === "string") out.set(m[1]!, name);
  }
  return out;
}

export const environmentsSeparated = stackPolicy({
  name: "sp-305-environments-separated",
  description:
    "Every container, network, volume and server is named and labelled with the stack's own datacenter, and no other stack of the project uses the same datacenter name.",
  controls: ["A.8.31"],
  severity: "high",
  remediationSteps:
    "Give each stack its own `serverpark:datacenter.name` (stacks/Pulumi.<stack>.yaml) and create resources through the Serverpark targets, which prefix and label them with it.",
  configSchema: { properties: { projectRoot: { type: "string", description: "where stacks/ lives (default: the repository holding the pack)" } } },
  validateStack: (args, report) => {
    const models = datacenterModels(args.resources);
    if (models.length === 0) return args.notApplicable("no serverpark Datacenter in this stack");
    const stack = /^urn:pulumi:([^:]+)::/.exec(models[0]!.urn)?.[1] ?? "";
    const root = args.getConfig<{ projectRoot?: string }>().projectRoot ?? PROJECT_ROOT;
    for (const { urn, model } of models) {
      const dc = model.spec.name;
      for (const [other, name] of otherStacksDatacenters(root, stack))
        if (name === dc)
          report(
            `stack ${stack} and stack ${other} both run datacenter "${dc}": their networks, volumes and containers would share names. Fix: rename one (serverpark:datacenter.name).`,
            urn,
          );
      for (const r of args.resources.filter((x) => (SCOPED as readonly string[]).includes(x.type))) {
        const name = typeof r.props.name === "string" ? r.props.name : "";
        const label = serverparkLabels(r.props).datacenter;
        if (!name.startsWith(`${dc}-`) || label !== dc)
          report(
            `${describeResource(r.type, r.name, r.props)} is ${!name.startsWith(`${dc}-`) ? `named "${name}", not "${dc}-…"` : `labelled datacenter ${label ?? "(none)"}`}: another stack could take it for its own. Fix: create it through a Serverpark target.`,
            r.urn,
          );
      }
    }
  },
});

export const SEPARATION_POLICIES = [environmentsSeparated];
