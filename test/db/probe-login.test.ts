/**
 * The NOC's monitoring login on the real db role (PostgreSQL 15 under our supervisor), with
 * psql and the NOC's own probe: the db replica gets only a SCRAM verifier, the role may log
 * in to its one database and do nothing else, and the probe counts a refused login as down.
 */
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbApp } from "../../images/db/src/app";
import { MONITORING_ROLE_COMMENT } from "../../images/db/src/provision";
import { scramSha256Verifier, scramVerifierMatches } from "../../contracts/credentials/scram";
import { nocSettingsSchema } from "../../contracts/settings/noc";
import { Monitor } from "../../images/noc/src/monitor";
import { createLogger } from "../../images/runtime/log";
import { Registry } from "prom-client";
import { havePostgres, pgEnv, psql, run, testCa, testDb, type TestDb } from "./support";

const PORT = 47361;
const enabled = havePostgres();
const NOC_PASSWORD = "nocProbePassword0123456789abcdef";

/** psql as the monitoring login, one statement per -c (each in its own transaction). */
async function asNoc(...statements: string[]): Promise<string> {
  const args = [
    "-w",
    "-h",
    "127.0.0.1",
    "-p",
    String(PORT),
    "-U",
    "noc",
    "-d",
    "postgres",
    "-v",
    "ON_ERROR_STOP=1",
    "-At",
    ...statements.flatMap((s) => ["-c", s]),
  ];
  const { stdout } = await run("psql", args, { env: pgEnv(PORT, NOC_PASSWORD), timeout: 30_000 });
  return stdout.trim();
}

async function probe(password: string | undefined, settings: Record<string, unknown> = {}) {
  const registry = new Registry();
  const monitor = new Monitor({
    targets: [{ service: "db", role: "db", replica: "db-0", host: "h1", port: { name: "postgres", port: PORT, protocol: "tcp" }, address: "127.0.0.1" }],
    settings: nocSettingsSchema.parse({ timeoutMs: 5000, ...settings }),
    domain: "fra1.park.test",
    log: createLogger({ role: "noc", level: "silent" }),
    registry,
    ...(password ? { dbPassword: password } : {}),
    ca: testCa(PORT),
  });
  await monitor.runRound();
  return {
    result: monitor.status().probes[0]!,
    history: monitor.history()["db-0/postgres"]!,
    metrics: await registry.metrics(),
    status: JSON.stringify(monitor.status()),
  };
}

describe("SCRAM verifiers", () => {
  it("match their password only, and refuse what SASLprep would change", () => {
    const v = scramSha256Verifier(NOC_PASSWORD, randomBytes(16));
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(v).not.toContain(NOC_PASSWORD);
    expect(scramVerifierMatches(v, NOC_PASSWORD)).toBe(true);
    expect(scramVerifierMatches(v, `${NOC_PASSWORD}x`)).toBe(false);
    expect(() => scramSha256Verifier("pass word with spaces", randomBytes(16))).toThrow(/printable ASCII/);
    expect(() => scramSha256Verifier(NOC_PASSWORD, randomBytes(4))).toThrow(/salt/);
  });
});

describe.skipIf(!enabled)("the NOC's monitoring login on the db role", () => {
  let db: TestDb;
  let app: DbApp | undefined;

  beforeAll(async () => {
    const verifier = scramSha256Verifier(NOC_PASSWORD, randomBytes(16));
    db = testDb(PORT, { databases: ["app", "shop"] }, { user: "noc", database: "postgres", verifier });
    app = await db.start();
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  it("lets psql log in with the password the verifier was made from, and runs SELECT 1", async () => {
    expect(await psql(PORT, "SELECT 1", NOC_PASSWORD, "noc", "postgres")).toBe("1");
    await expect(psql(PORT, "SELECT 1", "wrong-password-123", "noc", "postgres")).rejects.toThrow(/password authentication failed for user "noc"/);
  });

  it("may connect to its one database only", async () => {
    for (const other of ["app", "shop", "template1"]) {
      await expect(psql(PORT, "SELECT 1", NOC_PASSWORD, "noc", other), other).rejects.toThrow(/permission denied for database/);
    }
    // The owner of the application databases keeps its access.
    expect(await psql(PORT, "SELECT current_user", undefined, "app", "app")).toBe("app");
    expect(await psql(PORT, "SELECT current_user", undefined, "app", "shop")).toBe("app");
  });

  it("has LOGIN and no other privilege, and its sessions are read-only", async () => {
    const attrs = await psql(
      PORT,
      "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, rolconnlimit FROM pg_roles WHERE rolname = current_user",
      NOC_PASSWORD,
      "noc",
      "postgres",
    );
    expect(attrs).toBe("t|f|f|f|f|f|f|3");
    expect(
      await psql(PORT, "SELECT count(*) FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'noc'", NOC_PASSWORD, "noc", "postgres"),
    ).toBe("0");
    expect(await psql(PORT, "SHOW default_transaction_read_only", NOC_PASSWORD, "noc", "postgres")).toBe("on");
    await expect(psql(PORT, "CREATE TABLE x (i int)", NOC_PASSWORD, "noc", "postgres")).rejects.toThrow(/read-only transaction/);
    // Read-only is only a default the session may lift; the privileges are what refuse.
    await expect(asNoc("SET default_transaction_read_only = off", "CREATE TABLE x (i int)")).rejects.toThrow(/permission denied for schema public/);
    await expect(asNoc("SET default_transaction_read_only = off", "CREATE TEMP TABLE x (i int)")).rejects.toThrow(
      /permission denied to create temporary tables/,
    );
    await expect(psql(PORT, "SELECT * FROM pg_authid", NOC_PASSWORD, "noc", "postgres")).rejects.toThrow(/permission denied/);
  });

  it("keeps all of that across a restart (the role is altered, not duplicated)", async () => {
    await app!.close();
    app = await db.start();
    expect(await psql(PORT, "SELECT 1", NOC_PASSWORD, "noc", "postgres")).toBe("1");
    await expect(psql(PORT, "SELECT 1", NOC_PASSWORD, "noc", "app")).rejects.toThrow(/permission denied for database/);
  }, 120_000);

  it("the NOC's probe is up with the right password and runs SELECT 1", async () => {
    const { result } = await probe(NOC_PASSWORD);
    expect(result).toMatchObject({ state: "up", kind: "sql-select-1", detail: "SELECT 1 = 1 as noc@postgres" });
  });

  it("counts a wrong password as down, with the reason in history and metrics, never the password", async () => {
    const wrong = "notTheNocPassword0123456789abcdef";
    const { result, history, metrics, status } = await probe(wrong);
    expect(result).toMatchObject({ state: "down", reason: "login-refused" });
    expect(result.detail).toMatch(/login refused as noc@postgres \(SQLSTATE 28P01/);
    expect(history.at(-1)).toMatchObject({ state: "down", reason: "login-refused", detail: result.detail });
    expect(metrics).toMatch(/noc_probe_failures_total\{service="db",replica="db-0",port="postgres",reason="login-refused"\} 1/);
    expect(metrics).toMatch(/noc_probe_up\{service="db",replica="db-0",port="postgres"\} 0/);
    for (const text of [status, metrics, JSON.stringify(history)]) expect(text).not.toContain(wrong);
  });

  it("counts a database it may not enter, and a missing credential, as down", async () => {
    const denied = await probe(NOC_PASSWORD, { dbName: "app" });
    expect(denied.result).toMatchObject({ state: "down", reason: "login-refused" });
    expect(denied.result.detail).toMatch(/SQLSTATE 42501.*permission denied for database "app"/);
    const missing = await probe(undefined);
    expect(missing.result).toMatchObject({ state: "down", reason: "no-credential" });
  });
});

describe.skipIf(!enabled)("a monitoring login the settings get wrong", () => {
  it("is left out with an error, and the database keeps serving its application", async () => {
    const verifier = scramSha256Verifier(NOC_PASSWORD, randomBytes(16));
    const db = testDb(47363, {}, { user: "noc", database: "missing", verifier });
    const app = await db.start();
    try {
      expect(await psql(47363, "SELECT current_user")).toBe("app");
      await expect(psql(47363, "SELECT 1", NOC_PASSWORD, "noc", "postgres")).rejects.toThrow(/password authentication failed for user "noc"/);
    } finally {
      await app.close();
    }
  }, 120_000);
});

describe.skipIf(!enabled)("a bad monitoring login file", () => {
  it("stops start-up with a message that names the field but not the value", async () => {
    const secret = "plainPasswordNotAVerifier123";
    const db = testDb(47362, {}, { user: "noc", database: "postgres", verifier: secret });
    const error = await db.start().then(
      (a) => a.close().then(() => new Error("started")),
      (e: unknown) => e as Error,
    );
    expect(error.message).toMatch(/monitoring login file .* is invalid: verifier: expected a SCRAM-SHA-256 verifier/);
    expect(error.message).not.toContain(secret);
  });
});

describe.skipIf(!enabled)("a monitoring login the deployment drops or renames", () => {
  const PORT_B = 47364;
  const A = "nocAPassword0123456789abcdefghij";
  const B = "nocBPassword0123456789abcdefghij";
  let db: TestDb;
  let app: DbApp | undefined;
  const loginFile = () => join(db.dir, "probe-login.json");
  const login = (user: string, password: string) =>
    writeFileSync(loginFile(), JSON.stringify({ user, database: "postgres", verifier: scramSha256Verifier(password, randomBytes(16)) }));
  const restart = async () => {
    await app?.close();
    app = undefined;
    app = await db.start();
  };
  /** As the superuser, over the supervisor's own socket: what a role may do, whatever the login settings say. */
  async function asSuperuser<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({
      host: app!.postgres.options.socketDir,
      port: app!.postgres.options.port,
      user: "postgres",
      password: app!.postgres.superuserPassword(),
      database: "postgres",
    });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }
  const grantsOf = async (role: string) =>
    Number((await asSuperuser<{ n: string }>("SELECT count(*) AS n FROM pg_database d, aclexplode(d.datacl) a WHERE a.grantee = $1::regrole", [role]))[0]!.n);
  const refused = /role "[a-z_]+" is not permitted to log in/;

  beforeAll(async () => {
    db = testDb(PORT_B, { databases: ["app"] }, { user: "noc_a", database: "postgres", verifier: scramSha256Verifier(A, randomBytes(16)) });
    app = await db.start();
    // Roles provisioning did not make: an operator's, and one the next deployment names as its login.
    await asSuperuser(`CREATE ROLE ops WITH LOGIN PASSWORD '${B}'`);
    await asSuperuser(`COMMENT ON ROLE ops IS 'read-only access for the on-call team'`);
    await asSuperuser(`CREATE ROLE legacy_noc WITH LOGIN PASSWORD '${A}'`);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  it("with no login file any more, the login made before may no longer log in or connect anywhere", async () => {
    expect(await psql(PORT_B, "SELECT current_user", A, "noc_a", "postgres")).toBe("noc_a");
    expect(await grantsOf("noc_a")).toBe(1); // CONNECT on postgres
    rmSync(loginFile());
    await restart();
    await expect(psql(PORT_B, "SELECT 1", A, "noc_a", "postgres")).rejects.toThrow(refused);
    expect(await grantsOf("noc_a")).toBe(0);
    // Nothing else changed: the application, and the roles provisioning did not make.
    expect(await psql(PORT_B, "SELECT current_user")).toBe("app");
    expect(await psql(PORT_B, "SELECT current_user", B, "ops", "postgres")).toBe("ops");
    expect(await psql(PORT_B, "SELECT current_user", A, "legacy_noc", "postgres")).toBe("legacy_noc");
  }, 120_000);

  it("a login under another name disables the old one; a role provisioning only took over is left alone when dropped", async () => {
    // legacy_noc existed before, so it is altered into the monitoring login but not marked as made here.
    login("legacy_noc", B);
    await restart();
    expect(await psql(PORT_B, "SELECT current_user", B, "legacy_noc", "postgres")).toBe("legacy_noc");
    login("noc_b", B);
    await restart();
    expect(await psql(PORT_B, "SELECT current_user", B, "noc_b", "postgres")).toBe("noc_b");
    await expect(psql(PORT_B, "SELECT 1", A, "noc_a", "postgres")).rejects.toThrow(refused);
    expect(await psql(PORT_B, "SELECT current_user", B, "legacy_noc", "postgres")).toBe("legacy_noc");
    expect(await psql(PORT_B, "SELECT current_user", B, "ops", "postgres")).toBe("ops");
    const marks = await asSuperuser<{ rolname: string; rolcanlogin: boolean; comment: string | null }>(
      "SELECT rolname, rolcanlogin, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname IN ('noc_a', 'noc_b', 'legacy_noc', 'ops', 'app') ORDER BY rolname",
    );
    expect(marks.map((r) => [r.rolname, r.rolcanlogin, r.comment === MONITORING_ROLE_COMMENT])).toEqual([
      ["app", true, false],
      ["legacy_noc", true, false],
      ["noc_a", false, true],
      ["noc_b", true, true],
      ["ops", true, false],
    ]);
  }, 120_000);

  it("a login that comes back is enabled again, and the one it replaces is disabled", async () => {
    login("noc_a", A);
    await restart();
    expect(await psql(PORT_B, "SELECT current_user", A, "noc_a", "postgres")).toBe("noc_a");
    await expect(psql(PORT_B, "SELECT 1", A, "noc_a", "app")).rejects.toThrow(/permission denied for database/);
    await expect(psql(PORT_B, "SELECT 1", B, "noc_b", "postgres")).rejects.toThrow(refused);
    expect(await grantsOf("noc_b")).toBe(0);
    // A login left out for a mistake in the NOC's settings is not kept enabled either.
    writeFileSync(loginFile(), JSON.stringify({ user: "noc_a", database: "missing", verifier: scramSha256Verifier(A, randomBytes(16)) }));
    await restart();
    await expect(psql(PORT_B, "SELECT 1", A, "noc_a", "postgres")).rejects.toThrow(refused);
    expect(await psql(PORT_B, "SELECT current_user")).toBe("app");
  }, 120_000);
});
