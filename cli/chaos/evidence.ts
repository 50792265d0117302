/**
 * The evidence a chaos run leaves for the compliance report (components/compliance/evidence.ts):
 * one serverpark-evidence/v1 record per run, naming the stack file it ran on by hash. The run
 * passes when every probe's measured downtime matched the prediction; it says nothing else,
 * and the measurement itself is the command's (this only summarises its log).
 */
import { EVIDENCE_FORMAT, EVIDENCE_KINDS, stackFileHash, type Evidence } from "../../components/compliance/evidence";
import type { ChaosLog } from "./run";

export function chaosEvidence(log: ChaosLog, stackFile: { readonly stack: string; readonly path: string }, date: Date): Evidence {
  const rows = log.fidelity?.rows ?? [];
  const bad = rows.filter((r) => r.verdict !== "ok");
  const pass = rows.length > 0 && bad.length === 0 && !log.interrupted;
  const summary = log.interrupted
    ? `interrupted run of ${log.scenario}`
    : rows.length === 0
      ? `${log.scenario}: no probe measured`
      : pass
        ? `${log.scenario} at speed ${log.speed}: ${log.changes.length} power changes applied; all ${rows.length} probes went down and came back as predicted`
        : `${log.scenario} at speed ${log.speed}: ${bad.length} of ${rows.length} probes did not behave as predicted (${bad.map((r) => `${r.probe} ${r.verdict}`).join(", ")})`;
  return {
    format: EVIDENCE_FORMAT,
    kind: "chaos",
    date: date.toISOString(),
    stack: stackFile.stack,
    stackHash: stackFileHash(stackFile.path),
    result: pass ? "pass" : "fail",
    controls: [...EVIDENCE_KINDS.chaos.controls],
    summary,
    details: {
      datacenter: log.datacenter,
      scenario: log.scenario,
      speed: log.speed,
      startedAt: log.startedAt,
      interrupted: log.interrupted,
      powerChanges: log.changes.length,
      restored: log.restore !== null,
      tolerance: log.fidelity?.tolerance,
      probes: rows.map((r) => ({
        probe: r.probe,
        service: r.service,
        predictedSeconds: [r.predicted.seconds, r.predicted.latestSeconds],
        measuredSeconds: r.measured.seconds,
        verdict: r.verdict,
      })),
    },
  };
}
