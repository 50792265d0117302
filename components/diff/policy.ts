/**
 * Policy violations for the pull-request comment. The preview JSON does not carry policy
 * results, so they come from `serverpark policy --json` (issue 6). The shape accepted here:
 *
 * ```json
 * { "violations": [ { "policy": "docker-no-privileged", "controls": ["A.8.9"],
 *     "resource": "urn:pulumi:…::fra1-svc-www-0", "message": "…", "enforcement": "mandatory" } ] }
 * ```
 *
 * A bare array of violations is accepted too, and so are the aliases `policyName`/`name`
 * for `policy`, `control` (one id) for `controls`, and `urn` for `resource`. `enforcement` is
 * CrossGuard's level: `mandatory` blocks the deployment, `advisory` warns, `remediate` fixes,
 * `disabled` is listed but ignored.
 */
import { z } from "zod";
import { parseJsonInput } from "./input";

export const ENFORCEMENTS = ["mandatory", "remediate", "advisory", "disabled"] as const;
export type Enforcement = (typeof ENFORCEMENTS)[number];

const ViolationInput = z
  .looseObject({
    policy: z.string().optional(),
    policyName: z.string().optional(),
    name: z.string().optional(),
    controls: z.array(z.string()).optional(),
    control: z.string().optional(),
    resource: z.string().optional(),
    urn: z.string().optional(),
    message: z.string().default(""),
    enforcement: z.enum(ENFORCEMENTS).default("advisory"),
  })
  .refine((v) => v.policy ?? v.policyName ?? v.name, { message: 'a violation needs its policy id ("policy")' });

const ReportInput = z.union([z.array(ViolationInput), z.looseObject({ violations: z.array(ViolationInput) })]);

export interface PolicyViolation {
  readonly policy: string;
  /** ISO/IEC 27001:2022 Annex A control ids, e.g. ["A.8.9"]. */
  readonly controls: readonly string[];
  readonly resource: string;
  readonly message: string;
  readonly enforcement: Enforcement;
}

/** Parses `serverpark policy --json` output; violations sorted by enforcement, policy, resource. */
export function parsePolicyViolations(text: string, where = "policy JSON"): PolicyViolation[] {
  const data = parseJsonInput(ReportInput, text, where, "`serverpark policy --json`");
  const list = Array.isArray(data) ? data : data.violations;
  const rank = (e: Enforcement) => ENFORCEMENTS.indexOf(e);
  return list
    .map((v) => ({
      policy: (v.policy ?? v.policyName ?? v.name)!,
      controls: [...new Set(v.controls ?? (v.control ? [v.control] : []))].sort(),
      resource: v.resource ?? v.urn ?? "",
      message: v.message,
      enforcement: v.enforcement,
    }))
    .sort(
      (a, b) =>
        rank(a.enforcement) - rank(b.enforcement) ||
        a.policy.localeCompare(b.policy) ||
        a.resource.localeCompare(b.resource) ||
        a.message.localeCompare(b.message),
    );
}
