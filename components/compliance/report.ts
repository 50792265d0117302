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

export type PolicyResult = "pass" | "fail" | "advisory" | "not-applicable" | "disabled";
export type ControlResult = "pass" | "fail" | "advisory" | "not-applicable" | "not-addressed";

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
}

export interface ComplianceReport {
  readonly stack: string;
  readonly pack: { readonly name: string; readonly version: string };
  readonly configSource: string;
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

/** fail beats advisory beats pass beats not-applicable; a control with no policy is not addressed. */
function controlResult(rows: readonly PolicyRow[]): ControlResult {
  if (rows.length === 0) return "not-addressed";
  if (rows.some((r) => r.result === "fail")) return "fail";
  if (rows.some((r) => r.result === "advisory")) return "advisory";
  if (rows.some((r) => r.result === "pass")) return "pass";
  return "not-applicable";
}

export function buildReport(check: StackCheck, policies: readonly SpPolicy[]): ComplianceReport {
  const rows = new Map(policies.map((p) => [p.name, policyRow(p, check)]));
  const controls: ControlRow[] = ANNEX_A.map((control) => {
    const evidence = policies.filter((p) => controlsOf(p).includes(control.id)).map((p) => rows.get(p.name)!);
    return { ...control, result: controlResult(evidence), policies: evidence };
  });
  const count = (r: ControlResult) => controls.filter((c) => c.result === r).length;
  return {
    stack: check.stack,
    pack: check.pack,
    configSource: check.configSource,
    summary: {
      controls: controls.length,
      policies: policies.length,
      pass: count("pass"),
      fail: count("fail"),
      advisory: count("advisory"),
      "not-applicable": count("not-applicable"),
      "not-addressed": count("not-addressed"),
      mandatoryViolations: check.evaluation.mandatoryViolations,
    },
    controls,
  };
}
