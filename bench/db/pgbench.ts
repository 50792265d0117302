/**
 * db benchmark: pgbench TPS, read-only (-S) and default (TPC-B-like), against our db role
 * (PostgreSQL 15 under our supervisor, with its settings) and against a plain native
 * PostgreSQL 15 cluster (initdb defaults) on the same machine, side by side with the ratio.
 *
 * Usage: npx tsx bench/db/pgbench.ts [seconds=10] [clients=4]
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { testDb, PASSWORD, PG_BIN } from "../../test/db/support";
import { recordResult } from "../summary";

const run = promisify(execFile);
const seconds = Number(process.argv[2] ?? 10);
const clients = Number(process.argv[3] ?? 4);
const PGBENCH = join(PG_BIN, "pgbench");

async function pgbench(port: number, user: string, password: string, db: string, args: string[]): Promise<number> {
  const { stdout } = await run(PGBENCH, ["-h", "127.0.0.1", "-p", String(port), "-U", user, ...args, db], {
    env: { ...process.env, PGPASSWORD: password },
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  return m ? Number(m[1]) : NaN;
}

async function suite(port: number, user: string, password: string, db: string): Promise<{ readOnly: number; tpcb: number }> {
  // Default pgbench -i uses COPY FROM STDIN, exactly what pglite cannot do (see images/db/README.md).
  await run(PGBENCH, ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-i", "-s", "5", "-q", db], {
    env: { ...process.env, PGPASSWORD: password },
    timeout: 600_000,
  });
  const readOnly = await pgbench(port, user, password, db, ["-S", "-c", String(clients), "-j", "2", "-T", String(seconds)]);
  const tpcb = await pgbench(port, user, password, db, ["-c", String(clients), "-j", "2", "-T", String(seconds)]);
  return { readOnly, tpcb };
}

async function native(port: number): Promise<{ readOnly: number; tpcb: number }> {
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-native-"));
  chmodSync(dir, 0o755);
  const asPostgres =
    process.getuid?.() === 0
      ? { uid: Number(execFileSync("id", ["-u", "postgres"]).toString()), gid: Number(execFileSync("id", ["-g", "postgres"]).toString()) }
      : {};
  if ("uid" in asPostgres) chownSync(dir, asPostgres.uid!, asPostgres.gid!);
  writeFileSync(join(dir, "pw"), "native-pw");
  chmodSync(join(dir, "pw"), 0o644);
  await run(join(PG_BIN, "initdb"), ["-D", join(dir, "data"), "-U", "postgres", "--pwfile", join(dir, "pw"), "--auth=scram-sha-256"], {
    ...asPostgres,
    timeout: 120_000,
  });
  const child = spawn(join(PG_BIN, "postgres"), ["-D", join(dir, "data"), "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1"], {
    ...asPostgres,
    stdio: "ignore",
  });
  try {
    for (let i = 0; i < 100; i++) {
      const ok = await run(join(PG_BIN, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port)]).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return await suite(port, "postgres", "native-pw", "postgres");
  } finally {
    child.kill("SIGINT");
  }
}

async function main(): Promise<void> {
  const db = testDb(47391, { maxConnections: 100 });
  const app = await db.start();
  let ours;
  try {
    ours = await suite(47391, "app", PASSWORD, "app");
  } finally {
    await app.close();
  }
  const theirs = await native(47392);
  const row = (name: string, a: number, b: number) =>
    console.log(`${name.padEnd(22)} ours ${a.toFixed(0).padStart(7)} tps   native ${b.toFixed(0).padStart(7)} tps   ratio ${(a / b).toFixed(2)}`);
  console.log(`pgbench, scale 5, ${clients} clients, ${seconds} s each`);
  row("read-only (-S)", ours.readOnly, theirs.readOnly);
  row("default (TPC-B-like)", ours.tpcb, theirs.tpcb);
  // The same engine both sides: parity is expected, and ±15 % is this machine's noise (README.md).
  for (const [what, a, b] of [
    ["read-only (-S)", ours.readOnly, theirs.readOnly],
    ["default (TPC-B-like)", ours.tpcb, theirs.tpcb],
  ] as const)
    recordResult({ bench: "db", figure: `pgbench ${what}, ours ÷ native tps`, value: a / b, unit: "×", target: { op: ">=", value: 0.85 } });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
