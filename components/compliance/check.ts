/**
 * `checkStack`: the whole of `serverpark policy` without the printing — record the stack's
 * program under mocks, then evaluate the pack in-process. Also used by the compliance report
 * and the tests.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runProgram } from "../program";
import { findProjectRoot, type StackFile } from "../spec/load";
import { PACK_NAME, POLICIES } from "../../policies/rules";
import type { SpPolicy } from "../../policies/lib/policy";
import { evaluatePolicies, type Evaluation, type PolicyPackConfig } from "./evaluate";
import { recordStack, type RecordedResource, type RecordOptions } from "./record";

export interface CheckOptions {
  /** Project root holding Pulumi.yaml, images/ and stacks/ (the lock). @default the root above cwd */
  readonly root?: string;
  /** Policy pack config (CrossGuard's `--policy-pack-config` format). @default policies/config/<stack>.json when it exists */
  readonly config?: PolicyPackConfig;
  readonly stackTags?: Readonly<Record<string, string>>;
  /** Outputs computed by an earlier `up` (components/compliance/record.ts RecordOptions.computed). */
  readonly computed?: RecordOptions["computed"];
  /** Changes applied to the recorded resources before evaluation (tests simulate code changes with them). */
  readonly mutate?: (resources: RecordedResource[]) => void;
  readonly policies?: readonly SpPolicy[];
}

export interface StackCheck {
  readonly stack: string;
  readonly pack: { readonly name: string; readonly version: string };
  readonly configSource: string;
  readonly config: PolicyPackConfig;
  readonly stackTags: Readonly<Record<string, string>>;
  readonly resources: readonly RecordedResource[];
  readonly evaluation: Evaluation;
}

export function packVersion(): string {
  return (JSON.parse(readFileSync(join(__dirname, "..", "..", "policies", "package.json"), "utf8")) as { version: string }).version;
}

/** The per-stack policy config `policies/config/<stack>.json`, or none. */
export function stackPolicyConfig(stack: string): { config: PolicyPackConfig; source: string } {
  const file = join(__dirname, "..", "..", "policies", "config", `${stack}.json`);
  if (!existsSync(file)) return { config: {}, source: "(none: every policy at its default level)" };
  return { config: JSON.parse(readFileSync(file, "utf8")) as PolicyPackConfig, source: `policies/config/${stack}.json` };
}

export async function checkStack(file: StackFile, options: CheckOptions = {}): Promise<StackCheck> {
  const root = options.root ?? findProjectRoot();
  const recorded = await recordStack(() => runProgram({ root }), {
    stack: file.stack,
    config: file.config,
    ...(options.computed ? { computed: options.computed } : {}),
  });
  const resources = recorded.resources;
  options.mutate?.(resources);
  const fromFile = stackPolicyConfig(file.stack);
  const config = options.config ?? fromFile.config;
  const stackTags = options.stackTags ?? {};
  const evaluation = await evaluatePolicies(options.policies ?? POLICIES, resources, { config, stackTags, packEnforcementLevel: "mandatory" });
  return {
    stack: file.stack,
    pack: { name: PACK_NAME, version: packVersion() },
    configSource: options.config ? "(given)" : fromFile.source,
    config,
    stackTags,
    resources,
    evaluation,
  };
}
