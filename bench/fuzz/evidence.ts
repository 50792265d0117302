/**
 * The evidence a fuzz run leaves for the compliance report (components/compliance/evidence.ts,
 * control A.8.29 security testing): one serverpark-evidence/v1 record naming the stack whose
 * servers were fuzzed, by the hash of its stack file like every other run. A stack deploys
 * roles; a role's servers speak protocols, and each protocol with a fuzzer here must have
 * been run and held (no crash, no hang, memory within its bound) for the record to pass.
 * Roles with no fuzzer are named in the record, never counted as fuzzed.
 */
import { EVIDENCE_FORMAT, EVIDENCE_KINDS, type Evidence } from "../../components/compliance/evidence";
import type { Role } from "../../contracts/roles";

/** The fuzzers (bench/fuzz/<name>.fuzz.ts) that exercise each role's own server code. */
export const FUZZERS_OF_ROLE: Readonly<Record<Role, readonly string[]>> = {
  web: ["http"],
  dns: ["dns"],
  mail: ["smtp", "imap", "pop3"],
  file: ["sftp", "ftp"],
  // No fuzzer yet: the proxy's and the NOC's HTTP front ends, the game's WebSocket messages;
  // db speaks PostgreSQL's own protocol (PostgreSQL's code, not ours).
  proxy: [],
  noc: [],
  game: [],
  db: [],
};

/** One protocol's run, as a fuzzer prints it (contract at the top of run.ts) and whether it held. */
export interface FuzzRun {
  readonly protocol: string;
  readonly inputs: number;
  readonly crashes: number;
  readonly hangs: number;
  readonly rssMaxMiB: number;
  readonly rssBoundMiB: number;
  readonly seconds: number;
  readonly ok: boolean;
}

export function fuzzEvidence(
  runs: readonly FuzzRun[],
  stack: { readonly stack: string; readonly stackHash: string; readonly roles: readonly Role[] },
  date: Date,
): Evidence {
  const roles = [...new Set(stack.roles)].sort();
  const needed = [...new Set(roles.flatMap((r) => FUZZERS_OF_ROLE[r]))].sort();
  const ran = new Set(runs.map((r) => r.protocol));
  const missing = needed.filter((p) => !ran.has(p));
  const failed = runs.filter((r) => !r.ok);
  const unfuzzed = roles.filter((r) => FUZZERS_OF_ROLE[r].length === 0);
  const pass = runs.length > 0 && failed.length === 0 && missing.length === 0;
  const inputs = Math.min(...runs.map((r) => r.inputs));
  const problems = [
    ...failed.map((r) => `${r.protocol} failed (${r.crashes} crashes, ${r.hangs} hangs, RSS ${r.rssMaxMiB.toFixed(0)}/${r.rssBoundMiB} MiB)`),
    ...missing.map((p) => `${p} not run`),
  ];
  const summary = pass
    ? `${runs.length} protocols of the stack's servers fuzzed with at least ${inputs} inputs each: no crash, no hang, memory within bounds` +
      (unfuzzed.length > 0 ? `; not fuzzed: ${unfuzzed.join(", ")}` : "")
    : `fuzzing of the stack's servers did not hold: ${problems.join("; ") || "nothing ran"}`;
  return {
    format: EVIDENCE_FORMAT,
    kind: "fuzz",
    date: date.toISOString(),
    stack: stack.stack,
    stackHash: stack.stackHash,
    result: pass ? "pass" : "fail",
    controls: [...EVIDENCE_KINDS.fuzz.controls],
    summary,
    details: { roles, needed, missing, notFuzzed: unfuzzed, runs },
  };
}
