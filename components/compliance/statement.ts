/**
 * The Statement of Applicability's own columns for one control: is it applicable to this
 * stack and why, and how it is checked — by policies on the deployment, by evidence from real
 * runs, or organisationally, outside the pack. Derived from what actually checks the control
 * (the pack's policies, the evidence kinds) and from the policies' own verdicts on this stack,
 * plus a short note for the technical controls the pack knowingly does not check, so a gap is
 * named rather than left blank. Never a pass: results come only from policies and evidence.
 */
import type { AnnexAControl } from "../../policies/lib/controls";
import { EVIDENCE_KINDS } from "./evidence";

export type CheckMethod = "policy" | "evidence" | "organisational";

export interface Statement {
  readonly applicable: boolean;
  readonly why: string;
  readonly methods: readonly CheckMethod[];
  /** How, in words: the policies and runs that check it, or what would. */
  readonly how: string;
}

/** Technical controls the pack does not check, and why: an auditor must see the gap. */
const NOT_CHECKED: Readonly<Record<string, string>> = {
  "A.8.7": "no malware protection runs in the datacenter (mail is not scanned; a ClamAV component would be needed), so there is nothing deployed to check",
  "A.8.17":
    "containers use their host's clock and nothing in the deployment configures time synchronisation (on Hetzner the image's default timesyncd is not declared by the stack), so no policy can see it",
  "A.8.19":
    "the targets do not make container root filesystems read-only, so installing software in a running container is not prevented; a policy would fail every stack today",
  "A.8.12": "no data-leakage controls beyond network isolation (A.8.20, A.8.22) run in the datacenter",
  "A.8.13":
    "the backup policies (sp-421, sp-422) check the declared schedule and target and that the deployed replicas ship to it; the restore drill proves db and file restores from the target host, mail has no restore route yet",
  "A.8.29":
    "fuzz runs write evidence; the hostile-client tests (memory and connection exhaustion, per protocol) run in CI but write none, and the proxy, NOC and game servers have no fuzzer",
  "A.8.4": "source-code access is the repository host's, outside the deployment",
};

/** Where a run-based check exists, the kinds of run that prove the control. */
function evidenceKindsFor(id: string): string[] {
  return Object.values(EVIDENCE_KINDS)
    .filter((k) => (k.controls as readonly string[]).includes(id))
    .map((k) => `${k.title} (\`${k.producer}\`)`);
}

const ORGANISATIONAL: Readonly<Record<AnnexAControl["theme"], string>> = {
  organizational: "an organisational control of the ISMS (policies, roles, supplier and incident processes): evidenced by the organisation's records",
  people: "a people control (screening, terms, awareness, remote work): evidenced by HR and training records",
  physical: "a physical control of the premises the hosts stand in: evidenced by the facility (on Hetzner Cloud, the provider's certification, see A.5.23)",
  technological:
    "a technological control the pack does not check on the deployment: evidenced by the operator's procedures and records until a policy or a run covers it",
};

export function statementOf(
  control: AnnexAControl,
  policies: readonly { readonly id: string; readonly result: string; readonly notApplicable?: string }[],
): Statement {
  const runs = evidenceKindsFor(control.id);
  const methods: CheckMethod[] = [...(policies.length > 0 ? (["policy"] as const) : []), ...(runs.length > 0 ? (["evidence"] as const) : [])];
  const gap = NOT_CHECKED[control.id];
  const how = [
    ...(policies.length > 0 ? [`policies ${policies.map((p) => `\`${p.id}\``).join(", ")} on the stack's resources`] : []),
    ...(runs.length > 0 ? [`evidence from a ${runs.join(" or ")}`] : []),
    ...(gap ? [`not checked technically: ${gap}`] : []),
  ];
  if (methods.length === 0) {
    methods.push("organisational");
    how.unshift("organisational, outside the pack");
  }
  // Not applicable only when every policy that checks it says so for this stack, and no run proves it.
  if (policies.length > 0 && runs.length === 0 && policies.every((p) => p.result === "not-applicable" || p.result === "disabled")) {
    const reasons = [...new Set(policies.map((p) => p.notApplicable).filter((r): r is string => r !== undefined))];
    return {
      applicable: false,
      why: `not applicable to this stack: ${reasons.join("; ") || "no resource it applies to"}`,
      methods,
      how: how.join("; "),
    };
  }
  return {
    applicable: true,
    why:
      methods[0] === "organisational"
        ? `applicable: ${ORGANISATIONAL[control.theme]}`
        : "applicable: the datacenter runs what this control governs, and the pack checks it on the deployment",
    methods,
    how: how.join("; "),
  };
}
