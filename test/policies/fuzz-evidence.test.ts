/**
 * Fuzz runs as evidence for A.8.29 (bench/fuzz/evidence.ts): a record passes only when every
 * protocol the stack's roles speak, where a fuzzer exists, ran and held; the compliance
 * report takes it for A.8.29 and for nothing else. The runner writes it from a real run.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fuzzEvidence, FUZZERS_OF_ROLE, type FuzzRun } from "../../bench/fuzz/evidence";
import { judgeEvidence, readEvidenceDir, stackFileHash, writeEvidence } from "../../components/compliance/evidence";
import { loadStackFile } from "../../components/spec/load";
import type { Role } from "../../contracts/roles";

const HASH = `sha256:${"a".repeat(64)}`;
const held = (protocol: string, over: Partial<FuzzRun> = {}): FuzzRun => ({
  protocol,
  inputs: 100_000,
  crashes: 0,
  hangs: 0,
  rssMaxMiB: 150,
  rssBoundMiB: 320,
  seconds: 60,
  ok: true,
  ...over,
});
const ROLES: Role[] = ["web", "proxy", "dns", "mail", "file", "db", "game", "noc"];
const EVERY = [...new Set(ROLES.flatMap((r) => FUZZERS_OF_ROLE[r]))];

describe("fuzz evidence", () => {
  it("passes when every protocol of the stack's roles ran and held, and names the roles with no fuzzer", () => {
    const e = fuzzEvidence(
      EVERY.map((p) => held(p)),
      { stack: "local", stackHash: HASH, roles: ROLES },
      new Date("2026-12-06T08:00:00Z"),
    );
    expect(e.result).toBe("pass");
    expect(e.controls).toEqual(["A.8.29"]);
    expect(e.summary).toContain("not fuzzed: db, game, noc, proxy");
    expect(e.summary).toContain("at least 100000 inputs");
  });

  it("fails on a crash, a hang or memory beyond the bound, and on a protocol the stack needs that did not run", () => {
    const crashed = fuzzEvidence(
      EVERY.map((p) => (p === "imap" ? held(p, { crashes: 1, ok: false }) : held(p))),
      { stack: "local", stackHash: HASH, roles: ROLES },
      new Date(),
    );
    expect(crashed.result).toBe("fail");
    expect(crashed.summary).toContain("imap failed (1 crashes");
    const partial = fuzzEvidence([held("dns")], { stack: "local", stackHash: HASH, roles: ROLES }, new Date());
    expect(partial.result).toBe("fail");
    expect(partial.summary).toContain("sftp not run");
    // A stack of a DNS service alone needs only the DNS fuzzer.
    expect(fuzzEvidence([held("dns")], { stack: "ns", stackHash: HASH, roles: ["dns"] }, new Date()).result).toBe("pass");
    expect(fuzzEvidence([], { stack: "ns", stackHash: HASH, roles: ["dns"] }, new Date()).result).toBe("fail");
  });

  it("the compliance report takes a passing run for A.8.29 only, on the stack file it ran on", () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-fuzz-evidence-"));
    const now = new Date();
    writeEvidence(
      dir,
      fuzzEvidence(
        EVERY.map((p) => held(p)),
        { stack: "local", stackHash: HASH, roles: ROLES },
        now,
      ),
    );
    const judged = judgeEvidence(readEvidenceDir(dir), { stack: "local", stackHash: HASH, now });
    expect([...judged.byControl.keys()]).toEqual(["A.8.29"]);
    expect(judged.byControl.get("A.8.29")!.map((f) => [f.kind, f.result])).toEqual([["fuzz", "pass"]]);
    const otherVersion = judgeEvidence(readEvidenceDir(dir), { stack: "local", stackHash: `sha256:${"b".repeat(64)}`, now });
    expect(otherVersion.byControl.get("A.8.29")![0]!.result).toBe("stale");
  });

  it("the fuzz runner writes the record of a real run, judged against the stack's roles", () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-fuzz-evidence-"));
    const tsx = join(process.cwd(), "node_modules", "tsx", "dist", "cli.mjs");
    const out = execFileSync(process.execPath, [tsx, "bench/fuzz/run.ts", "50", "dns", "--evidence", dir, "--stack", "local"], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(out).toMatch(/\| dns \| 50 \| 0 \| 0 \|/);
    const [file] = readEvidenceDir(dir);
    expect(file!.evidence.kind).toBe("fuzz");
    expect(file!.evidence.stackHash).toBe(stackFileHash(loadStackFile("local").path));
    // The local stack runs mail and file servers too: DNS alone does not prove A.8.29 for it.
    expect(file!.evidence.result).toBe("fail");
    expect(file!.evidence.summary).toContain("smtp not run");
    expect((file!.evidence.details as { runs: FuzzRun[] }).runs).toEqual([
      expect.objectContaining({ protocol: "dns", inputs: 50, crashes: 0, hangs: 0, ok: true }),
    ]);
  });
});
