/** Helpers for the db tests: a throw-away cluster on loopback run by the real supervisor. */
import { execFile, execFileSync } from "node:child_process";
import { afterAll, beforeAll } from "vitest";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLogger } from "../../images/runtime/log";
import { startDbApp, type DbApp } from "../../images/db/src/app";
import { dbSettingsSchema } from "../../contracts/settings/db";
import { makeCertificates } from "../noc/standins";

export const run = promisify(execFile);
export const PG_BIN = process.env.SP_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";
export const PASSWORD = "app-password-123";

/** True when PostgreSQL and psql are installed; otherwise prints why (fails in CI). */
export function havePostgres(): boolean {
  const missing = [join(PG_BIN, "postgres"), join(PG_BIN, "initdb"), join(PG_BIN, "pg_dump")].filter((f) => !existsSync(f));
  try {
    execFileSync("sh", ["-c", "command -v psql"], { stdio: "ignore" });
  } catch {
    missing.push("psql");
  }
  if (missing.length === 0) return true;
  if (process.env.CI === "true") throw new Error(`missing in CI: ${missing.join(", ")} (apt-get install postgresql postgresql-client)`);
  console.warn(`skipping db tests: missing ${missing.join(", ")}`);
  return false;
}

/** PostgreSQL refuses to run as root; tests running as root hand it to the postgres user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

export interface TestDb {
  readonly dir: string;
  /** The throwaway CA that signed the server's certificate (127.0.0.1, localhost). */
  readonly caFile: string;
  start(): Promise<DbApp>;
}

/** @param probeLogin the monitoring login file's content (user, database, SCRAM verifier), if any. */
export function testDb(port: number, settings: Record<string, unknown> = {}, probeLogin?: Record<string, unknown>): TestDb {
  const dir = mkdtempSync(join(tmpdir(), "sp-db-"));
  chmodSync(dir, 0o755); // the postgres user must reach its data below
  const passwordFile = join(dir, "password");
  writeFileSync(passwordFile, PASSWORD);
  const probeLoginFile = join(dir, "probe-login.json");
  if (probeLogin) writeFileSync(probeLoginFile, JSON.stringify(probeLogin));
  // Network logins are TLS only (images/db/src/postgres.ts hbaLines): the server gets a certificate.
  const pki = makeCertificates();
  const caFile = join(dir, "ca.crt");
  const certFile = join(dir, "tls.crt");
  const keyFile = join(dir, "tls.key");
  writeFileSync(caFile, pki.ca);
  writeFileSync(certFile, pki.cert, { mode: 0o644 });
  writeFileSync(keyFile, pki.key, { mode: 0o600 });
  testCaFiles.set(port, caFile);
  return {
    dir,
    caFile,
    start: () =>
      startDbApp({
        binDir: PG_BIN,
        dataDir: join(dir, "data"),
        host: "127.0.0.1",
        port,
        settings: dbSettingsSchema.parse({ backup: { intervalMinutes: 0, keep: 3 }, ...settings }),
        passwordFile,
        probeLoginFile,
        tls: { certFile, keyFile },
        runDir: join(dir, "run"),
        log: createLogger({ role: "db", level: "silent" }),
        runAs: runAs(),
      }),
  };
}

const testCaFiles = new Map<number, string>();

/**
 * libpq's environment for the test server on `port`: TLS with the certificate verified
 * against the test CA (name and chain), unless `sslmode` says otherwise.
 */
export function pgEnv(port: number, password: string, sslmode = "verify-full"): NodeJS.ProcessEnv {
  const ca = testCaFiles.get(port);
  return { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5", PGSSLMODE: sslmode, ...(ca ? { PGSSLROOTCERT: ca } : {}) };
}

/** Runs psql against the test server over verified TLS; resolves with stdout, rejects with stderr. */
export async function psql(port: number, sql: string, password = PASSWORD, user = "app", database = "app", sslmode = "verify-full"): Promise<string> {
  const { stdout } = await run("psql", ["-w", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], {
    env: pgEnv(port, password, sslmode),
    timeout: 30_000,
  });
  return stdout.trim();
}

/** The CA that signed the certificate of the test server on `port`. */
export function testCa(port: number): Buffer {
  const ca = testCaFiles.get(port);
  if (!ca) throw new Error(`no test database on port ${port}`);
  return readFileSync(ca);
}

/** The pg npm client's TLS options for the test server on `port` (verified against the test CA). */
export function pgSsl(port: number): { ca: string; rejectUnauthorized: true } {
  return { ca: testCa(port).toString("utf8"), rejectUnauthorized: true };
}

/** A test server started before the file's tests and closed after them; `app()` is the running one. */
export function runningTestDb(port: number): { app(): DbApp } {
  let app: DbApp | undefined;
  beforeAll(async () => {
    app = await testDb(port).start();
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });
  return {
    app: () => {
      if (!app) throw new Error("the test database did not start");
      return app;
    },
  };
}
