/**
 * `serverpark simulate --n-1` / `--n-2` as a CI gate: the real CLI (bin/serverpark.js, a child
 * process) exits 1 when a service declared redundant goes down in any of the failures it
 * plays, 0 otherwise, and `--json` names the services and the failures. A service counts a
 * lost replica by the one rule of components/spec/redundancy.ts: db with two replicas
 * replicates, so it survives the loss of one; mail with two is refused before anything runs.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stackVariant } from "../support/stackVariant";

interface GateJson {
  ok: boolean;
  redundantDown: { service: string; downBy: string[] }[];
  verdicts: { service: string; redundant: boolean; survivesNMinusOne: boolean; downBy: string[] }[];
}

// Each run is a fresh Node process loading the program through tsx: seconds alone, much more
// on a loaded machine (a limit, not a measurement).
const RUN = 240_000;

function simulate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [join(process.cwd(), "bin", "serverpark.js"), "simulate", ...args], { encoding: "utf8", timeout: RUN });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/**
 * The local stack's db (two data nodes) on the two dedicated hosts of rack r2, which hangs on feed A
 * alone (h3 is gone); its monitor stays on h8 in rack r3.
 */
const DB_IN_ONE_SINGLE_FED_RACK: [string | RegExp, string][] = [
  [/\n\s+- \{ id: h3, [^\n]*/, ""],
  ["- { id: r2-pdu-b, feed: B, capacityKw: 11 }", "- { id: r2-pdu-a2, feed: A, capacityKw: 11 }"],
  [/psus: \[r2-pdu-a, r2-pdu-b\]/g, "psus: [r2-pdu-a, r2-pdu-a2]"],
  ["psus: [r2-pdu-b]", "psus: [r2-pdu-a2]"],
];

describe("simulate --n-1 / --n-2 exit codes", () => {
  it(
    "exits 0 on the local stack, whose redundant services survive every single failure",
    () => {
      const run = simulate("local", "--n-1", "--json");
      expect(run.status, run.stderr).toBe(0);
      const out = JSON.parse(run.stdout) as GateJson;
      expect(out).toMatchObject({ ok: true, redundantDown: [] });
      // Not vacuous: the local stack has redundant services, and single failures that take others down.
      expect(out.verdicts.filter((v) => v.redundant).map((v) => v.service)).toEqual(["www", "edge", "ns", "db"]);
      // db is an HA group (data nodes on h3 and h6, the monitor on h8 in rack r3): it survives
      // every single failure although h3 and h6 are fed by one feed each.
      expect(out.verdicts.find((v) => v.service === "db")).toMatchObject({ redundant: true, survivesNMinusOne: true, downBy: [] });
      expect(out.verdicts.filter((v) => !v.survivesNMinusOne).map((v) => v.service)).toEqual(["mail", "files", "arena", "noc"]);
    },
    RUN,
  );

  it(
    "exits 1 and names the service when a single failure takes a redundant service down",
    () => {
      const file = stackVariant("local", [
        ["{ id: www, role: web, replicas: 2, plan: vps-s,", "{ id: www, role: web, replicas: 2, minReplicas: 2, plan: vps-s,"],
      ]);
      const text = simulate(file, "--n-1");
      expect(text.status).toBe(1);
      expect(text.stdout).toMatch(/www\s+yes\s+FAILS \(declared redundant\)/);
      expect(text.stdout).toMatch(/FAIL: services declared redundant go down after a single failure: www \(/);
      const json = simulate(file, "--n-1", "--json");
      expect(json.status).toBe(1);
      const out = JSON.parse(json.stdout) as GateJson;
      expect(out.ok).toBe(false);
      expect(out.redundantDown.map((s) => s.service)).toEqual(["www"]);
      expect(out.redundantDown[0]!.downBy).toEqual(expect.arrayContaining(["host:h1", "host:h4"]));
    },
    RUN,
  );

  it(
    "exits 1 for --n-2 when a pair of failures takes a redundant service down",
    () => {
      const run = simulate("local", "--n-1", "--n-2", "--json");
      expect(run.status).toBe(1);
      const out = JSON.parse(run.stdout) as GateJson;
      expect(out.redundantDown.find((s) => s.service === "edge")!.downBy).toContain("feed:A+feed:B");
      // N-1 alone took none of them down: only the pairs fail the run.
      expect(out.verdicts.filter((v) => v.redundant && !v.survivesNMinusOne)).toEqual([]);
    },
    RUN,
  );

  it(
    "db in a datacenter of two racks replicates and counts as redundant, but a rack holding a data node and the group's monitor takes it down",
    () => {
      // Without rack r3 (its host h8 moved into rack r2) the monitor (components/plan/ha.ts) must
      // share a rack with a data node (here r2, with db-1), and without the monitor the surviving
      // node cannot be promoted (or keep writing without its synchronous standby). The third rack
      // is what the local stack's HA db needs to survive a rack's loss.
      const file = stackVariant("local", [
        [/\n\s+# A third rack for the witness[^\n]*\n[^\n]*\n\s+- id: r3\n\s+pdus:\n[^\n]*\n[^\n]*/, ""],
        ["{ id: h8, rack: r3, kind: virtualization, psus: [r3-pdu-a, r3-pdu-b],", "{ id: h8, rack: r2, kind: virtualization, psus: [r2-pdu-a, r2-pdu-b],"],
      ]);
      const run = simulate(file, "--n-1", "--json");
      expect(run.status, run.stdout).toBe(1);
      const db = (JSON.parse(run.stdout) as GateJson).verdicts.find((v) => v.service === "db")!;
      expect(db).toMatchObject({ redundant: true, survivesNMinusOne: false, downBy: ["rack:r2"] });
      // Every single host, feed and PDU loss leaves a way to fail over.
      expect(db.downBy.some((c) => /^(host|feed|pdu):/.test(c))).toBe(false);
    },
    RUN,
  );

  it(
    "db with two replicas in one single-fed rack fails: the rack and the feed take both down",
    () => {
      const run = simulate(stackVariant("local", DB_IN_ONE_SINGLE_FED_RACK), "--n-1", "--json");
      expect(run.status, run.stderr).toBe(1);
      const out = JSON.parse(run.stdout) as GateJson;
      const db = out.redundantDown.find((s) => s.service === "db")!;
      expect(db.downBy).toEqual(expect.arrayContaining(["feed:A", "rack:r2"]));
    },
    RUN,
  );

  it(
    "mail with two replicas never reaches the simulation: validate refuses it (exit 1, the reason)",
    () => {
      const file = stackVariant("local", [[/id: mail\n(\s+)role: mail\n(\s+)replicas: 1/, "id: mail\n$1role: mail\n$2replicas: 2"]]);
      const run = simulate(file, "--n-1");
      expect(run.status).toBe(1);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(/services\[3\]\.replicas: is 2, but mail does not replicate its mailboxes yet: two replicas would hold different data/);
    },
    RUN,
  );
});
