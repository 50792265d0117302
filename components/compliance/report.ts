/**
 * The Statement-of-Applicability view of one stack's policy results: every ISO/IEC
 * 27001:2022 Annex A control, the policies that evidence it, and for this stack pass / fail
 * with the failing resources. Controls the pack does not address are listed as such — an
 * auditor must see what is *not* covered as clearly as what is. Pure and deterministic (no
 * clock): the same results give the same report, so reports diff cleanly.
 */
import { ANNEX_A, type AnnexAControl } from "../../policies/lib/controls";
import { controlsOf, type SpPolicy } from "../../policies/lib/policy";
import type { StackCheck } from "./check";
import type { Violation } from "./evaluate";
import type { EvidenceFinding, EvidenceJudgement } from "./evidence";
import { statementOf, type Statement } from "./statement";

export type PolicyResult = "pass" | "fail" | "advisory" | "not-applicable" | "disabled";
export type ControlResult = "pass" | "fail" | "advisory" | "stale" | "no-evidence" | "not-applicable" | "not-addressed";

export interface PolicyRow {
  readonly id: string;
  readonly description: string;
  readonly severity: string;
  readonly enforcementLevel: string;
  readonly result: PolicyResult;
  readonly checked: number;
  readonly notApplicable?: string;
  readonly remediation: string;
  readonly failures: readonly { readonly where: string; readonly detail: string }[];
}

export interface ControlRow extends AnnexAControl {
  readonly result: ControlResult;
  readonly policies: readonly PolicyRow[];
  /** Runs that prove the control (components/compliance/evidence.ts), when evidence was given. */
  readonly evidence: readonly EvidenceFinding[];
  /** The SoA's columns: applicable and why, how it is checked. */
  readonly statement: Statement;
}

export interface ComplianceReport {
  readonly stack: string;
  readonly pack: { readonly name: string; readonly version: string };
  readonly configSource: string;
  /** The evidence directory's judgement parameters, when evidence was given. */
  readonly evidence?: { readonly stackHash: string; readonly maxAgeDays: number; readonly otherStacks: readonly string[] };
  readonly summary: Readonly<Record<ControlResult, number>> & { readonly controls: number; readonly policies: number; readonly mandatoryViolations: number };
  readonly controls: readonly ControlRow[];
}

function where({ resource }: Violation): string {
  return resource ? `${resource.type} ${resource.name}` : "the stack";
}

function policyRow(policy: SpPolicy, check: StackCheck): PolicyRow {
  const outcome = check.evaluation.outcomes.find((o) => o.policy === policy.name);
  const base = {
    id: policy.name,
    description: policy.description,
    severity: policy.severity ?? "medium",
    remediation: policy.remediationSteps ?? "",
  };
  if (!outcome) return { ...base, enforcementLevel: "disabled", result: "disabled", checked: 0, failures: [] };
  const failures = outcome.violations.map((v) => ({ where: where(v), detail: v.detail }));
  const mandatory = outcome.violations.some((v) => v.enforcementLevel === "mandatory");
  const result: PolicyResult = outcome.violations.length > 0 ? (mandatory ? "fail" : "advisory") : outcome.checked === 0 ? "not-applicable" : "pass";
  return {
    ...base,
    enforcementLevel: outcome.enforcementLevel,
    result,
    checked: outcome.checked,
    ...(result === "not-applicable" && outcome.notApplicable.length > 0 ? { notApplicable: outcome.notApplicable.join("; ") } : {}),
    failures,
  };
}

/**
 * fail beats advisory beats stale beats pass beats not-applicable; a control with neither a
 * policy nor evidence is not addressed, or "no-evidence" when only a run (not given) checks it. Stale evidence keeps a control from passing even when
 * its policies pass: the run that proved it no longer speaks for this stack.
 */
function controlResult(rows: readonly PolicyRow[], evidence: readonly EvidenceFinding[], statement: Statement): ControlResult {
  if (rows.length === 0 && evidence.length === 0) return statement.methods.includes("evidence") ? "no-evidence" : "not-addressed";
  const all = [...rows.map((r) => r.result), ...evidence.map((e) => e.result)];
  for (const r of ["fail", "advisory", "stale", "pass"] as const) if (all.includes(r)) return r;
  return "not-applicable";
}

export function buildReport(check: StackCheck, policies: readonly SpPolicy[], runs?: EvidenceJudgement): ComplianceReport {
  const rows = new Map(policies.map((p) => [p.name, policyRow(p, check)]));
  const controls: ControlRow[] = ANNEX_A.map((control) => {
    const evidence = policies.filter((p) => controlsOf(p).includes(control.id)).map((p) => rows.get(p.name)!);
    const found = runs?.byControl.get(control.id) ?? [];
    const statement = statementOf(control, evidence);
    return { ...control, result: controlResult(evidence, found, statement), policies: evidence, evidence: found, statement };
  });
  const count = (r: ControlResult) => controls.filter((c) => c.result === r).length;
  return {
    stack: check.stack,
    pack: check.pack,
    configSource: check.configSource,
    ...(runs ? { evidence: { stackHash: runs.stackHash, maxAgeDays: runs.maxAgeDays, otherStacks: runs.otherStacks } } : {}),
    summary: {
      controls: controls.length,
      policies: policies.length,
      pass: count("pass"),
      fail: count("fail"),
      advisory: count("advisory"),
      stale: count("stale"),
      "no-evidence": count("no-evidence"),
      "not-applicable": count("not-applicable"),
      "not-addressed": count("not-addressed"),
      mandatoryViolations: check.evaluation.mandatoryViolations,
    },
    controls,
  };
}
