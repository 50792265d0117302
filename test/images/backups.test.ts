/** The shared backup engine: complete-or-absent folders, retention, the cron schedule, metrics. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { backupName, backupTime, Backups, checkSchedule, copyTreeDurably } from "../../images/runtime/backups";
import { createLogger } from "../../images/runtime/log";

const log = createLogger({ role: "test", level: "silent" });
const scratch = () => mkdtempSync(join(tmpdir(), "sp-backups-"));

function source(): string {
  const dir = scratch();
  mkdirSync(join(dir, "alice", "msg"), { recursive: true });
  writeFileSync(join(dir, "alice", "msg", "1"), "first message");
  writeFileSync(join(dir, "alice", "state.json"), '{"uidNext":2}');
  mkdirSync(join(dir, "tmp"));
  writeFileSync(join(dir, "tmp", "half"), "never backed up");
  return dir;
}

describe("backup names", () => {
  it("round-trip through the time they stand for, and refuse anything else", () => {
    const d = new Date("2026-11-27T02:15:00.123Z");
    expect(backupName(d)).toBe("20261127T021500123Z");
    expect(backupTime(backupName(d))?.toISOString()).toBe(d.toISOString());
    for (const bad of ["20261127T021500123Z.partial", "../etc", "20261327T021500123Z", ""]) expect(backupTime(bad), bad).toBeUndefined();
  });

  it("schedules are real cron expressions", () => {
    expect(() => checkSchedule("15 2 * * *")).not.toThrow();
    expect(() => checkSchedule("75 2 * * *")).toThrow(/not a valid cron expression/);
    expect(() => checkSchedule("every night")).toThrow(/five-field/);
  });
});

describe("Backups", () => {
  it("writes a complete copy under a time-stamped name, leaves out what the filter drops, and lists it", async () => {
    const data = source();
    const dir = scratch();
    const backups = new Backups({ dir, policy: {}, log, write: (target) => copyTreeDurably(data, target, (rel) => !rel.startsWith("tmp")) });
    const { name, files } = await backups.run();
    expect(files).toBe(2);
    expect(readFileSync(join(dir, name, "alice", "msg", "1"), "utf8")).toBe("first message");
    expect(existsSync(join(dir, name, "tmp"))).toBe(false);
    expect((await backups.list()).map((b) => b.name)).toEqual([name]);
    expect(await backups.path(name)).toBe(join(dir, name));
    await expect(backups.path("../../etc")).rejects.toThrow(/not a backup name/);
    await expect(backups.path("20200101T000000000Z")).rejects.toThrow(/no backup/);
  });

  it("never lists a backup whose write failed, removes such leftovers, and counts the failure", async () => {
    const dir = scratch();
    const registry = new Registry();
    let fail = true;
    const backups = new Backups({
      dir,
      policy: {},
      log,
      registry,
      write: async (target) => {
        writeFileSync(join(target, "part"), "x");
        if (fail) throw new Error("disk full");
        return 1;
      },
    });
    await expect(backups.run()).rejects.toThrow("disk full");
    expect(readdirSync(dir).some((n) => n.endsWith(".partial"))).toBe(true);
    expect(await backups.list()).toEqual([]);
    let metrics = await registry.metrics();
    expect(metrics).toMatch(/serverpark_backup_failures_total 1/);
    expect(metrics).toMatch(/serverpark_backup_last_success_timestamp_seconds 0/);
    fail = false;
    const { name } = await backups.run();
    expect(readdirSync(dir)).toEqual([name]);
    metrics = await registry.metrics();
    expect(metrics).toMatch(new RegExp(`serverpark_backup_last_success_timestamp_seconds ${backupTime(name)!.getTime() / 1000}`));
  });

  it("runs one backup at a time: a second call while one runs gets the same backup", async () => {
    const dir = scratch();
    let writes = 0;
    const backups = new Backups({ dir, policy: {}, log, write: async () => (writes++, await new Promise((r) => setTimeout(r, 50)), 0) });
    const [a, b] = await Promise.all([backups.run(), backups.run()]);
    expect(a.name).toBe(b.name);
    expect(writes).toBe(1);
  });

  it("deletes backups older than the retention and beyond keep, but never the newest", async () => {
    const dir = scratch();
    let now = new Date("2026-11-01T02:15:00Z");
    const policy = { retentionDays: 14, keep: 5 };
    const backups = new Backups({ dir, policy, log, now: () => now, write: async () => 0 });
    const names: string[] = [];
    for (let day = 0; day < 20; day++) {
      now = new Date(Date.UTC(2026, 10, 1 + day, 2, 15));
      names.push((await backups.run()).name);
    }
    // keep: 5 wins over 14 days here.
    expect((await backups.list()).map((b) => b.name)).toEqual(names.slice(-5));
    // Nothing for 60 days: everything is past retention, the newest stays.
    now = new Date(Date.UTC(2027, 0, 30));
    expect(await backups.prune()).toEqual(names.slice(-5, -1));
    expect((await backups.list()).map((b) => b.name)).toEqual([names.at(-1)]);
  });

  it("runs on its cron schedule", async () => {
    const dir = scratch();
    let writes = 0;
    const backups = new Backups({ dir, policy: { schedule: "* * * * *" }, log, write: async () => (writes++, 0) });
    // Every minute is the finest five-field schedule; the next run is within 60 s and in the future.
    backups.start();
    const next = backups.nextRun();
    backups.stop();
    expect(next).toBeInstanceOf(Date);
    expect(next!.getTime() - Date.now()).toBeGreaterThan(0);
    expect(next!.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    expect(next!.getUTCSeconds()).toBe(0);
    expect(writes).toBe(0);
  });

  it("refuses a bad schedule when it is created", () => {
    expect(() => new Backups({ dir: scratch(), policy: { schedule: "61 * * * *" }, log, write: async () => 0 })).toThrow(/not a valid cron expression/);
  });
});
