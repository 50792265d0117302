/**
 * The db role with real clients: psql and the pg npm client connect with a password, data
 * survives a restart and a SIGKILL of PostgreSQL, dumps restore, bad credentials are refused.
 */
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbApp } from "../../images/db/src/app";
import { Backups } from "../../images/db/src/backup";
import { dbSettingsSchema } from "../../contracts/settings/db";
import { createLogger } from "../../images/runtime/log";
import { havePostgres, PASSWORD, pgSsl, psql, testDb, type TestDb } from "./support";

const PORT = 47301;
const enabled = havePostgres();

describe.skipIf(!enabled)("db role with psql", () => {
  let db: TestDb;
  let app: DbApp | undefined;

  beforeAll(async () => {
    db = testDb(PORT);
    app = await db.start();
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  it("psql creates, inserts and queries with the generated password", async () => {
    await psql(PORT, "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)");
    await psql(PORT, "INSERT INTO notes (body) VALUES ('first'), ('second')");
    expect(await psql(PORT, "SELECT string_agg(body, ',' ORDER BY id) FROM notes")).toBe("first,second");
  });

  it("refuses a wrong password, an unknown user and the superuser from outside", async () => {
    await expect(psql(PORT, "SELECT 1", "wrong-password")).rejects.toThrow(/password authentication failed/);
    await expect(psql(PORT, "SELECT 1", PASSWORD, "nobody")).rejects.toThrow(/password authentication failed/);
    await expect(psql(PORT, "SELECT 1", "", "postgres")).rejects.toThrow(/pg_hba\.conf rejects connection/);
  });

  it("serves the pg npm client, with concurrent transactions isolated", async () => {
    const a = new pg.Client({ host: "127.0.0.1", port: PORT, user: "app", password: PASSWORD, database: "app", ssl: pgSsl(PORT) });
    const b = new pg.Client({ host: "127.0.0.1", port: PORT, user: "app", password: PASSWORD, database: "app", ssl: pgSsl(PORT) });
    await a.connect();
    await b.connect();
    try {
      await a.query("BEGIN");
      await a.query("INSERT INTO notes (body) VALUES ('uncommitted')");
      const seenByB = await b.query("SELECT count(*)::int AS n FROM notes WHERE body = 'uncommitted'");
      expect(seenByB.rows[0].n).toBe(0); // a real server isolates sessions
      await a.query("ROLLBACK");
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("keeps committed data across a restart and a SIGKILL of PostgreSQL", async () => {
    await psql(PORT, "INSERT INTO notes (body) SELECT 'bulk-' || g FROM generate_series(1, 500) g");
    await app!.close();
    app = await db.start();
    expect(await psql(PORT, "SELECT count(*) FROM notes WHERE body LIKE 'bulk-%'")).toBe("500");
    await psql(PORT, "INSERT INTO notes (body) VALUES ('just-before-the-crash')");
    await app!.postgres.kill();
    await app!.close();
    app = await db.start(); // crash recovery replays the WAL
    expect(await psql(PORT, "SELECT count(*) FROM notes WHERE body = 'just-before-the-crash'")).toBe("1");
  }, 120_000);

  it("dumps on demand and restores the dump", async () => {
    const [dump] = await app!.backups.dumpAll();
    expect(dump!.bytes).toBeGreaterThan(0);
    expect((await app!.backups.list()).map((b) => b.file)).toContain(dump!.file);
    await psql(PORT, "DROP TABLE notes");
    await expect(psql(PORT, "SELECT count(*) FROM notes")).rejects.toThrow(/does not exist/);
    await app!.backups.restore(dump!.file);
    expect(await psql(PORT, "SELECT count(*) FROM notes WHERE body LIKE 'bulk-%'")).toBe("500");
    await expect(app!.backups.restore("../../etc/passwd")).rejects.toThrow(/not a backup file/);
  }, 60_000);

  it("follows the stack's declared backup: cron schedule and retention days, never deleting the newest dump", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-db-bk-"));
    let now = new Date("2026-11-01T02:45:00Z");
    const settings = dbSettingsSchema.parse({ backup: { intervalMinutes: 0, keep: 100 } });
    const log = createLogger({ role: "db", level: "silent" });
    expect(() => new Backups(app!.postgres, dir, settings, log, { schedule: "45 25 * * *" })).toThrow(/not a valid cron expression/);
    const backups = new Backups(app!.postgres, dir, settings, log, { schedule: "45 2 * * *", retentionDays: 3 }, () => now);
    backups.start();
    const next = backups.nextRun();
    backups.stop();
    expect(next && [next.getUTCHours(), next.getUTCMinutes()]).toEqual([2, 45]);

    const dumps: string[] = [];
    for (let day = 0; day < 6; day++) {
      now = new Date(Date.UTC(2026, 10, 1 + day, 2, 45));
      const [dump] = await backups.dumpAll();
      dumps.push(dump!.file);
    }
    // Day 6 at 02:45: dumps from days 3, 4, 5 and 6 are within 3 days (day 3 exactly on the edge).
    expect(readdirSync(dir).sort()).toEqual(dumps.slice(2));
    // Nothing for a month: every dump is past retention, but the newest stays.
    now = new Date(Date.UTC(2026, 11, 20));
    await backups.dumpAll();
    const left = readdirSync(dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^app-20261220T000000000Z\.dump$/);
  }, 120_000);
});
