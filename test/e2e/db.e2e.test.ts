/**
 * The db on real Docker, a highly available group (the local stack's `db`, `replicas: 2`):
 * every data node and the pg_auto_failover monitor healthy; every data node reachable on its
 * private address from the web tier; none of them, nor the monitor, reachable from a
 * container on the internet-facing network only; the monitor sees a primary and a secondary;
 * and real `psql` with the documented multi-host connection string (GET /cluster's
 * `clientUri`, target_session_attrs=read-write, verify-full) writes on the primary, the
 * standby has the row and refuses a write of its own. The group's failover itself is
 * test/e2e/db-ha.e2e.test.ts.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { primaryOf, psql } from "../support/haLab";
import { dbReplicas, e2eDbGroup, waitSettled } from "./dbGroup";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();

function hasPsql(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v psql"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI === "true") throw new Error("psql is missing (npm run setup installs postgresql-client) — required when CI=true");
    console.warn("db e2e: the psql test is skipped: psql is missing (npm run setup installs postgresql-client)");
    return false;
  }
}

/** A TCP connect from inside a container with the image's own node; prints OK or the error code. */
const connectScript = (host: string, port: number) =>
  `const s = require("node:net").connect(${port}, ${JSON.stringify(host)}); s.setTimeout(3000, () => { console.log("TIMEOUT"); process.exit(1); }); s.on("connect", () => { console.log("OK"); process.exit(0); }); s.on("error", (e) => { console.log(e.code); process.exit(1); });`;

describeE2e("db (a highly available group) on Docker", () => {
  const { dataNodes, monitor } = dc.skipped ? { dataNodes: [], monitor: undefined } : dbReplicas(dc);

  it("has two data nodes on different hosts and a monitor on a third, all healthy", () => {
    expect(dataNodes.map((c) => c.replica)).toEqual(["db-0", "db-1"]);
    expect(new Set([...dataNodes, monitor!].map((c) => c.host)).size).toBe(3);
    for (const c of [...dataNodes, monitor!]) expect(c.health, c.name).toBe("healthy");
  });

  it("every data node is reachable from the web tier on the private network", async () => {
    const web = dc.replica("www-0");
    for (const db of dataNodes) {
      const { stdout } = await run("docker", ["exec", web.name, "node", "-e", connectScript(db.addresses.private!, 5432)], { timeout: 20_000 });
      expect(stdout.trim(), db.name).toBe("OK");
    }
  }, 60_000);

  it("no member, the monitor included, can be reached from the internet-facing network", async () => {
    // Every member's address on every network, each port it serves (PostgreSQL and the management port).
    const targets = [...dataNodes, monitor!].flatMap((c) => Object.values(c.addresses).flatMap((a) => [`${a}:5432`, `${a}:9100`]));
    expect(targets.length).toBeGreaterThanOrEqual(12);
    const script = `const net = require("node:net"); const targets = ${JSON.stringify(targets)};
      Promise.all(targets.map((t) => new Promise((resolve) => { const [h, p] = t.split(":"); const s = net.connect(Number(p), h);
        s.setTimeout(3000, () => { s.destroy(); resolve(t + " TIMEOUT"); }); s.on("connect", () => { s.destroy(); resolve(t + " OK"); }); s.on("error", (e) => resolve(t + " " + e.code)); })))
      .then((r) => console.log(r.join("\\n")));`;
    const { stdout } = await run("docker", ["run", "--rm", "--network", dc.networks.public!, "--entrypoint", "node", "node:24-bookworm-slim", "-e", script], {
      timeout: 60_000,
    });
    const results = stdout.trim().split("\n");
    expect(results).toHaveLength(targets.length);
    for (const line of results) expect(line).not.toMatch(/ OK$/);
  }, 90_000);

  it.runIf(hasPsql())(
    "psql with the documented connection string writes on the primary; the standby has the row and refuses a write",
    async () => {
      const group = await e2eDbGroup(dc);
      // The standby may still be catching up after the boot: the monitor's word first.
      const view = await waitSettled(group, 180_000);
      expect(Object.keys(view).sort(), JSON.stringify(view)).toEqual(dataNodes.map((c) => c.replica).sort());
      const primary = (await primaryOf(group))!;
      expect(primary, "psql with the documented string landed on a data node").toBeDefined();
      expect(view[primary.name]).toBe("primary");
      const standby = group.nodes.find((n) => n !== primary)!;
      const token = `ha-${Date.now().toString(36)}`;
      await psql(group.uri, "CREATE TABLE IF NOT EXISTS e2e_ha_check (token text PRIMARY KEY)");
      expect(await psql(group.uri, `INSERT INTO e2e_ha_check VALUES ('${token}') RETURNING host(inet_server_addr())`)).toMatch(
        new RegExp(`^${primary.host.replaceAll(".", "\\.")}\\b`),
      );
      // Synchronous replication: the commit returned once the standby had it.
      expect(await psql(group.memberUri(standby), `SELECT pg_is_in_recovery()::text || ':' || count(*) FROM e2e_ha_check WHERE token = '${token}'`)).toBe(
        "true:1",
      );
      await expect(psql(group.memberUri(standby), `INSERT INTO e2e_ha_check VALUES ('${token}-standby')`)).rejects.toThrow(/read-only transaction/);
      await psql(group.uri, "DROP TABLE e2e_ha_check");
    },
    240_000,
  );
});
