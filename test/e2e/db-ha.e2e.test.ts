/**
 * The highly available db end to end, on a small stack of its own
 * (test/lab/fixtures/Pulumi.hatest.yaml: db with replicas: 2 = two data nodes and the
 * pg_auto_failover monitor the plan adds, on three hosts in three racks), deployed with
 * `serverpark lab` as a user would: real `psql` on the host with the documented connection
 * string (every data node, target_session_attrs=read-write, verify-full against the
 * datacenter CA) keeps working across `docker kill` of the primary's container, a writer
 * that records every acknowledged commit loses none, and the killed node, started again,
 * rejoins as the synchronous standby with every acknowledged row. The failover time is
 * printed, not asserted (speed lives in bench/db/failover.ts). Last, `serverpark chaos` cuts
 * the primary's host: the db probe (a session that can write) sees the failover, not the
 * host's outage, and the verdict against the prediction (components/power/live/haGroup.ts) is ok.
 * It does not use the shared e2e datacenter; it needs the shared lock like every e2e test.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dockerKill,
  dockerStart,
  haGroup,
  HA_FIXTURE,
  HA_STACK,
  idsIn,
  lab,
  monitorView,
  primaryOf,
  psql,
  serverpark,
  waitFor,
  Writer,
  type HaGroup,
} from "../support/haLab";
import { waitSettled } from "./dbGroup";

function enabled(): boolean {
  const missing: string[] = [];
  try {
    execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "ignore", timeout: 20_000 });
  } catch {
    missing.push("a Docker engine");
  }
  try {
    execFileSync("sh", ["-c", "command -v psql"], { stdio: "ignore" });
  } catch {
    missing.push("psql");
  }
  if (missing.length === 0) return true;
  if (process.env.CI === "true") throw new Error(`db HA e2e: missing ${missing.join(", ")} (required when CI=true)`);
  console.warn(`skipping the db HA e2e test: missing ${missing.join(", ")}`);
  return false;
}

describe.skipIf(!enabled())("highly available db on Docker (serverpark lab, psql, docker kill)", () => {
  let group: HaGroup;

  beforeAll(async () => {
    await lab("down", HA_STACK); // a leftover of an interrupted run
    const up = await lab("up", HA_FIXTURE);
    expect(up.code, up.stderr.slice(-3000)).toBe(0);
    expect(up.stdout).toMatch(/All 6 containers healthy/);
    group = await haGroup();
    // Healthy data nodes are a primary and a streaming standby (whichever registered first is the primary);
    // the monitor must also have seen the standby catch up.
    await waitSettled(group);
  }, 900_000);

  afterAll(async () => {
    if (process.env.SP_E2E_KEEP === "1") return;
    await lab("down", HA_STACK);
  }, 300_000);

  it("psql with the documented string writes on the primary; the standby has the row, and refuses writes itself", async () => {
    await psql(group.uri, "CREATE TABLE acks (id int PRIMARY KEY, at timestamptz DEFAULT now())");
    await psql(group.uri, "INSERT INTO acks (id) VALUES (0)");
    const primary = (await primaryOf(group))!;
    expect((await monitorView(group))[primary.name]).toBe("primary");
    const standby = group.nodes.find((n) => n !== primary)!;
    // Synchronous replication: the commit returned only once the standby had it.
    expect(await psql(group.memberUri(standby), "SELECT pg_is_in_recovery()::text || ':' || count(*) FROM acks WHERE id = 0")).toBe("true:1");
    await expect(psql(group.memberUri(standby), "INSERT INTO acks (id) VALUES (-1)")).rejects.toThrow(/read-only transaction/);
  }, 120_000);

  it("keeps working across docker kill of the primary's container: no acknowledged commit lost, the old primary rejoins", async () => {
    const primary = (await primaryOf(group))!;
    const standby = group.nodes.find((n) => n !== primary)!;
    const writer = new Writer(group.uri, "acks", 1);
    let killedAt = 0;
    writer.start();
    try {
      await waitFor("writes before the kill", async () => (writer.acknowledged.length >= 5 ? true : undefined), 60_000);
      // From when the container is dead: a write that started while the docker CLI was starting may finish on it.
      await dockerKill(primary.container);
      killedAt = Date.now();
      const first = await waitFor("a write started after the kill", async () => writer.firstStartedAfter(killedAt), 180_000);
      console.log(`failover: ${((first.ackedAt - killedAt) / 1000).toFixed(1)} s from docker kill of ${primary.container} to the first acknowledged write`);
      const before = writer.acknowledged.length;
      await waitFor("more writes on the new primary", async () => (writer.acknowledged.length >= before + 10 ? true : undefined), 60_000);
    } finally {
      await writer.stop();
    }
    // The same connection string now lands on the other node.
    expect((await primaryOf(group))?.name).toBe(standby.name);
    const lost = writer.lost(await idsIn(group.uri, "acks", 1));
    expect({ acknowledged: writer.acknowledged.length > 15, lost }).toEqual({ acknowledged: true, lost: [] });
    expect(writer.acknowledged.some((a) => a.startedAt > killedAt)).toBe(true);

    // The killed container starts again on its volume and follows the new primary.
    await dockerStart(primary.container);
    await waitFor(
      "the old primary rejoined as the standby",
      async () => {
        const view = await monitorView(group);
        return view[standby.name] === "primary" && view[primary.name] === "secondary" ? view : undefined;
      },
      300_000,
    );
    const ids = writer.acknowledged.map((a) => a.id);
    expect(await psql(group.memberUri(primary), `SELECT pg_is_in_recovery()::text || ':' || count(*) FROM acks WHERE id IN (${ids.join(",")})`)).toBe(
      `true:${ids.length}`,
    );
    // And psql with the same string still writes.
    expect(await psql(group.uri, "INSERT INTO acks (id) VALUES (-2) RETURNING id")).toMatch(/^-2/);
  }, 900_000);

  it("serverpark chaos cuts the primary's host for 30 s: the db is down for the failover, as predicted, and back while that host is still dark", async () => {
    const primary = (await waitFor("the primary", () => primaryOf(group), 120_000))!;
    const host = execFileSync("docker", ["inspect", "-f", '{{index .Config.Labels "serverpark.host"}}', primary.container]).toString().trim();
    expect(host).toMatch(/^h\d$/);
    // The passwords come from `serverpark lab`'s state, as for a user after `lab up`.
    const out = await serverpark(["chaos", HA_FIXTURE, "--scenario", `host:${host}@0/30m`, "--speed", "60", "--json"]);
    expect(out.stderr).toContain(`db is a highly available group; its primary is ${primary.name}`);
    const log = JSON.parse(out.stdout) as {
      changes: { host: string; kind: string; realSeconds: number }[];
      fidelity: {
        rows: { probe: string; verdict: string; predicted: { down: { from: number; to: number }[] }; measured: { down: { from: number; to: number }[] } }[];
      };
    };
    const db = log.fidelity.rows.find((r) => r.probe === "db/query")!;
    const table = JSON.stringify(db);
    console.log(`chaos, the primary's host dark for 30 s: ${table}`);
    expect(db.verdict, table).toBe("ok");
    expect(out.code, out.stderr.slice(-2000)).toBe(0);
    const powerOn = log.changes.find((c) => c.host === host && c.kind === "power-on")!.realSeconds;
    // The primary's loss was seen, and both the prediction and the measured outage ended before its host had power again.
    expect(db.measured.down.length, table).toBeGreaterThan(0);
    expect(Math.max(...db.predicted.down.map((d) => d.to)), table).toBeLessThan(powerOn);
    expect(Math.max(...db.measured.down.map((d) => d.to)), table).toBeLessThan(powerOn);
    // Afterwards the group is whole again: a primary and a secondary.
    await waitSettled(group);
  }, 900_000);
});
