/**
 * Policy violations for the pull-request comment. The preview JSON does not carry policy
 * results, so they come from `serverpark policy --json` (issue 6), whose violations look like
 *
 * ```json
 * { "violations": [ { "policy": "docker-no-privileged", "controls": ["A.8.9"],
 *     "enforcementLevel": "mandatory", "message": "<description>\n<detail>", "detail": "…",
 *     "urn": "urn:pulumi:…::fra1-svc-www-0", "resource": { "type": "…", "name": "fra1-svc-www-0" } } ] }
 * ```
 *
 * Accepted too, for other producers: a bare array of violations; `enforcement` for
 * `enforcementLevel`; `control` (one id) for `controls`; `policyName`/`name` for `policy`; and
 * `resource` as a plain string (URN or name). `detail` is preferred over `message` (CrossGuard's
 * message repeats the policy description). Levels are CrossGuard's: `mandatory` blocks the
 * deployment, `remediate` fixes, `advisory` warns, `disabled` is listed but ignored.
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
    resource: z.union([z.string(), z.looseObject({ type: z.string().optional(), name: z.string() })]).optional(),
    urn: z.string().optional(),
    message: z.string().default(""),
    detail: z.string().optional(),
    enforcementLevel: z.enum(ENFORCEMENTS).optional(),
    enforcement: z.enum(ENFORCEMENTS).optional(),
  })
  .refine((v) => v.policy ?? v.policyName ?? v.name, { message: 'a violation needs its policy id ("policy")' });

const ReportInput = z.union([z.array(ViolationInput), z.looseObject({ violations: z.array(ViolationInput) })]);

export interface PolicyViolation {
  readonly policy: string;
  /** ISO/IEC 27001:2022 Annex A control ids, e.g. ["A.8.9"]. */
  readonly controls: readonly string[];
  /** Resource name or URN; empty for a stack-wide violation. */
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
      resource: (typeof v.resource === "object" ? v.resource.name : v.resource) ?? v.urn ?? "",
      message: v.detail ?? v.message,
      enforcement: v.enforcementLevel ?? v.enforcement ?? "advisory",
    }))
    .sort(
      (a, b) =>
        rank(a.enforcement) - rank(b.enforcement) ||
        a.policy.localeCompare(b.policy) ||
        a.resource.localeCompare(b.resource) ||
        a.message.localeCompare(b.message),
    );
}
