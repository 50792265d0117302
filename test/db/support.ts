/** Helpers for the db tests: a throw-away cluster on loopback run by the real supervisor. */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLogger } from "../../images/runtime/log";
import { startDbApp, type DbApp } from "../../images/db/src/app";
import { dbSettingsSchema } from "../../contracts/settings/db";

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
  return {
    dir,
    start: () =>
      startDbApp({
        binDir: PG_BIN,
        dataDir: join(dir, "data"),
        host: "127.0.0.1",
        port,
        settings: dbSettingsSchema.parse({ backup: { intervalMinutes: 0, keep: 3 }, ...settings }),
        passwordFile,
        probeLoginFile,
        runDir: join(dir, "run"),
        log: createLogger({ role: "db", level: "silent" }),
        runAs: runAs(),
      }),
  };
}

/** Runs psql against the test server; resolves with stdout, rejects with stderr. */
export async function psql(port: number, sql: string, password = PASSWORD, user = "app", database = "app"): Promise<string> {
  const { stdout } = await run("psql", ["-w", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], {
    env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" },
    timeout: 30_000,
  });
  return stdout.trim();
}
