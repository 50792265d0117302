/**
 * Evidence from what runs: a chaos run's log becomes a serverpark-evidence/v1 file, and
 * `serverpark compliance <stack> --evidence <dir>` (the real binary) passes A.5.29/A.5.30
 * with the run's date only while the run is fresh and on the stack file as it is now; an old
 * run or one on another version of the stack file shows them STALE.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chaosEvidence } from "../../cli/chaos/evidence";
import type { ChaosLog } from "../../cli/chaos/run";
import { EVIDENCE_FORMAT, judgeEvidence, readEvidenceDir, writeEvidence, type Evidence } from "../../components/compliance/evidence";

const ROOT = join(__dirname, "..", "..");
const LOCAL = join(ROOT, "stacks", "Pulumi.local.yaml");
const LOCAL_HASH = `sha256:${createHash("sha256").update(readFileSync(LOCAL)).digest("hex")}`;
const DAY = 86_400_000;

function chaosLog(verdicts: readonly string[], interrupted = false): ChaosLog {
  const row = (probe: string, verdict: string) => ({
    probe,
    service: probe,
    predicted: { down: [], seconds: 3, latestDown: [], latestSeconds: 4 },
    measured: { down: [], seconds: 3.5, samples: 40, failed: 14 },
    differenceSeconds: 0,
    toleranceSeconds: 2,
    verdict,
  });
  return {
    datacenter: "fra1",
    scenario: "host:h3@0/2m",
    speed: 60,
    startedAt: "2026-12-01T10:00:00.000Z",
    endSimSeconds: 120,
    interrupted,
    changes: [],
    restore: null,
    predicted: [],
    fidelity: {
      tolerance: { seconds: 2, fraction: 0.1 },
      machine: { load: 1, cores: 2, bootSlowdown: 1 },
      measuredUntilSeconds: 10,
      predicted: [],
      rows: verdicts.map((v, i) => row(`svc${i}`, v)),
      samples: [],
    },
  } as unknown as ChaosLog;
}

const evidence = (date: Date, overrides: Partial<Evidence> = {}): Evidence => ({
  ...chaosEvidence(chaosLog(["ok", "ok"]), { stack: "local", path: LOCAL }, date),
  ...overrides,
});

describe("chaos evidence", () => {
  it("records stack, stack-file hash, date, result and the controls a run proves", () => {
    const at = new Date("2026-12-01T10:05:00.000Z");
    const e = chaosEvidence(chaosLog(["ok", "ok"]), { stack: "local", path: LOCAL }, at);
    expect(e).toMatchObject({
      format: EVIDENCE_FORMAT,
      kind: "chaos",
      date: "2026-12-01T10:05:00.000Z",
      stack: "local",
      stackHash: LOCAL_HASH,
      result: "pass",
    });
    expect(e.controls).toEqual(["A.5.29", "A.5.30"]);
    expect(chaosEvidence(chaosLog(["ok", "measured-longer"]), { stack: "local", path: LOCAL }, at)).toMatchObject({
      result: "fail",
      summary: expect.stringMatching(/1 of 2 probes did not behave as predicted \(svc1 measured-longer\)/),
    });
    expect(chaosEvidence(chaosLog(["ok"], true), { stack: "local", path: LOCAL }, at).result).toBe("fail");
  });

  it("round-trips through a file and refuses a file that is not evidence", () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-evidence-"));
    const path = writeEvidence(dir, evidence(new Date("2026-12-01T10:05:00.000Z")));
    expect(path).toMatch(/chaos-local-2026-12-01T10-05-00-000Z\.json$/);
    expect(readEvidenceDir(dir).map((f) => f.evidence.result)).toEqual(["pass"]);
    writeFileSync(join(dir, "zz.json"), JSON.stringify({ ...evidence(new Date()), stackHash: "abc" }));
    expect(() => readEvidenceDir(dir)).toThrow(/zz\.json: not serverpark-evidence\/v1 evidence: stackHash/);
  });

  it("judges: the newest fresh run on this stack file decides; older or other-version runs are stale", () => {
    const now = new Date("2026-12-06T00:00:00.000Z");
    const judge = (...es: Evidence[]) =>
      judgeEvidence(
        es.map((e, i) => ({ file: `${i}.json`, evidence: e })),
        { stack: "local", stackHash: LOCAL_HASH, now, maxAgeDays: 30 },
      ).byControl.get("A.5.29") ?? [];
    const fresh = evidence(new Date(now.getTime() - 2 * DAY));
    expect(judge(fresh)).toEqual([expect.objectContaining({ result: "pass", date: fresh.date, file: "0.json" })]);
    expect(judge(evidence(new Date(now.getTime() - 31 * DAY)))).toEqual([
      expect.objectContaining({ result: "stale", note: expect.stringMatching(/older than 30 days/) }),
    ]);
    const otherVersion = evidence(new Date(now.getTime() - DAY), { stackHash: `sha256:${"0".repeat(64)}` });
    expect(judge(otherVersion)).toEqual([expect.objectContaining({ result: "stale", note: expect.stringMatching(/another version of the stack file/) })]);
    // A newer run on an old stack file does not hide the fresh one on this file.
    expect(judge(otherVersion, fresh)).toEqual([expect.objectContaining({ result: "pass", file: "1.json" })]);
    // A failing fresh run fails the control; a run for another stack says nothing about this one.
    expect(judge({ ...fresh, result: "fail" })).toEqual([expect.objectContaining({ result: "fail" })]);
    expect(judge({ ...fresh, stack: "hetzner" })).toEqual([]);
    // A restore drill (test/e2e/backup-restore.e2e.test.ts) proves A.8.13, and only that.
    const drill = { ...fresh, kind: "restore", controls: ["A.8.13"] };
    const restore = judgeEvidence([{ file: "r.json", evidence: drill }], { stack: "local", stackHash: LOCAL_HASH, now });
    expect([...restore.byControl.keys()]).toEqual(["A.8.13"]);
    expect(restore.byControl.get("A.8.13")).toEqual([expect.objectContaining({ kind: "restore", result: "pass", title: "restore drill" })]);
    expect(
      judgeEvidence([{ file: "r.json", evidence: { ...drill, controls: ["A.5.29"] } }], { stack: "local", stackHash: LOCAL_HASH, now }).byControl.size,
    ).toBe(0);
    // A file cannot claim a control its kind does not prove.
    expect(
      judgeEvidence([{ file: "x.json", evidence: { ...fresh, controls: ["A.8.7"] } }], { stack: "local", stackHash: LOCAL_HASH, now }).byControl.size,
    ).toBe(0);
  });
});

/** The real binary; its report as JSON. */
function compliance(dir: string, ...extra: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "serverpark.js"), "compliance", "local", "--json", "--evidence", dir, ...extra], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 170_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const report = JSON.parse(r.stdout) as {
    controls: { id: string; result: string; evidence: { date: string; result: string; file: string }[] }[];
    summary: Record<string, number>;
  };
  return { report, control: (id: string) => report.controls.find((c) => c.id === id)! };
}

describe("serverpark compliance --evidence (real CLI runs on evidence files)", () => {
  it("fresh chaos evidence on the current stack file passes A.5.29 and A.5.30 with the run's date", () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-evidence-fresh-"));
    const date = new Date(Date.now() - 3 * DAY);
    writeEvidence(dir, evidence(date));
    const { control, report } = compliance(dir);
    for (const id of ["A.5.29", "A.5.30"]) {
      expect(control(id).result, id).toBe("pass");
      expect(control(id).evidence).toEqual([expect.objectContaining({ result: "pass", date: date.toISOString() })]);
    }
    expect(control("A.5.1").result).toBe("not-addressed");
    expect(report.summary.stale).toBe(0);
  }, 180_000);

  it("old or other-version evidence leaves them STALE, and --max-age decides what is old", () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-evidence-stale-"));
    writeEvidence(dir, evidence(new Date(Date.now() - 40 * DAY)));
    writeEvidence(dir, evidence(new Date(Date.now() - DAY), { stackHash: `sha256:${"1".repeat(64)}` }));
    const stale = compliance(dir);
    for (const id of ["A.5.29", "A.5.30"]) expect(stale.control(id).result, id).toBe("stale");
    expect(stale.report.summary.stale).toBe(2);
    // With a longer validity, the 40-day-old run on this stack file counts again.
    expect(compliance(dir, "--max-age", "60").control("A.5.29")).toMatchObject({ result: "pass", evidence: [{ result: "pass" }] });
  }, 360_000);

  it("without evidence the controls await it, never pass", () => {
    const { control } = compliance(mkdtempSync(join(tmpdir(), "sp-evidence-none-")));
    expect(control("A.5.29").result).toBe("no-evidence");
  }, 180_000);
});
