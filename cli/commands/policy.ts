import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { EXIT, UsageError, type CliCommand } from "../command";
import { loadPlan, table } from "../stack";
import { findProjectRoot } from "../../components/spec/load";
import { checkStack, type StackCheck } from "../../components/compliance/check";
import type { PolicyPackConfig, Violation } from "../../components/compliance/evaluate";

/** `--tag k=v` (repeatable) → stack tags, as Pulumi Cloud would pass them to policies. */
export function parseTags(values: unknown): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const t of (Array.isArray(values) ? values : []) as string[]) {
    const eq = t.indexOf("=");
    if (eq <= 0) throw new UsageError(`--tag expects key=value, got "${t}"`);
    tags[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return tags;
}

export function readPolicyConfig(path: unknown, cwd: string): PolicyPackConfig | undefined {
  if (typeof path !== "string") return undefined;
  try {
    return JSON.parse(readFileSync(resolve(cwd, path), "utf8")) as PolicyPackConfig;
  } catch (e) {
    throw new UsageError(`--config ${path}: ${(e as Error).message}`);
  }
}

function render(check: StackCheck): string {
  const { evaluation, pack } = check;
  const lines = [
    `Stack ${check.stack}: ${check.resources.length} resources, ${evaluation.outcomes.length} policies (${pack.name} v${pack.version}; config ${check.configSource})`,
    "",
  ];
  if (evaluation.violations.length === 0) {
    lines.push("No violations.");
  } else {
    const where = ({ resource }: Violation, short: boolean) =>
      resource ? `${short ? resource.type.split(":").pop() : resource.type} ${resource.name}` : "stack";
    const rows = evaluation.violations.map((v) => [v.enforcementLevel, v.policy, v.controls.join(","), where(v, true)]);
    lines.push(table(["LEVEL", "POLICY", "CONTROLS", "RESOURCE"], rows), "");
    for (const v of evaluation.violations) {
      lines.push(
        `${v.enforcementLevel.toUpperCase()} ${v.policy} [${v.controls.join(", ")}] ${where(v, false)}`,
        `  ${v.detail}`,
        `  remediation: ${v.remediation ?? "-"}`,
        "",
      );
    }
  }
  const advisory = evaluation.violations.length - evaluation.mandatoryViolations;
  lines.push(`${evaluation.mandatoryViolations} mandatory, ${advisory} advisory violation${advisory === 1 ? "" : "s"}.`);
  return lines.join("\n");
}

export function toJson(check: StackCheck) {
  return {
    stack: check.stack,
    pack: check.pack,
    config: check.configSource,
    stackTags: check.stackTags,
    resources: check.resources.length,
    mandatoryViolations: check.evaluation.mandatoryViolations,
    violations: check.evaluation.violations,
    policies: check.evaluation.outcomes.map((o) => ({
      policy: o.policy,
      controls: o.controls,
      kind: o.kind,
      enforcementLevel: o.enforcementLevel,
      checked: o.checked,
      violations: o.violations.length,
      notApplicable: o.notApplicable,
    })),
  };
}

export const command: CliCommand = {
  name: "policy",
  summary: "check a stack against the ISO 27001 policy pack (in-process, no Pulumi CLI)",
  usage: `Usage: serverpark policy <stack> [--json] [--config <file>] [--tag key=value ...]

Runs the stack's Pulumi program under Pulumi's mocks, records every resource with its
inputs and options, and evaluates the policy pack in policies/ on them exactly as
CrossGuard would during \`pulumi preview --policy-pack policies\` (resource and stack
policies, notApplicable, stack tags). Prints every violation with its resource, policy
id, Annex A controls and remediation. Exits 1 when a mandatory policy is violated.

Options:
  --json          print the results as JSON
  --config <file> policy pack config (CrossGuard --policy-pack-config format);
                  default policies/config/<stack>.json when it exists
  --tag k=v       a stack tag, e.g. --tag serverpark:environment=production`,
  options: { json: { type: "boolean" }, config: { type: "string" }, tag: { type: "string", multiple: true } },
  positionals: { min: 1, max: 1 },
  async run({ values, positionals }, io) {
    // Spec and plan problems are reported with their lines before anything runs.
    const { file } = loadPlan(positionals[0]!, io.cwd);
    const config = readPolicyConfig(values.config, io.cwd);
    const check = await checkStack(file, { root: findProjectRoot(io.cwd), ...(config ? { config } : {}), stackTags: parseTags(values.tag) });
    io.out(values.json === true ? JSON.stringify(toJson(check), null, 2) : render(check));
    return check.evaluation.mandatoryViolations > 0 ? EXIT.invalid : EXIT.ok;
  },
};
