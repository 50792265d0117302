/**
 * Backups every stateful role shares: the schedule and retention the stack declares
 * (`services[].backup`, delivered in the replica config), complete-or-absent backup folders,
 * and their metrics. The role supplies only how to copy its data into a folder.
 *
 *   <dir>/<stamp>/          a complete backup (stamp = UTC time, 20261127T020000123Z)
 *   <dir>/<stamp>.partial/  one being written; never listed, removed by the next run
 *
 * A backup is filled under its `.partial` name, every file and the folder fsynced, then
 * renamed and the parent fsynced: a crash at any moment leaves no half backup that looks
 * whole. Retention deletes backups older than `retentionDays` (and beyond `keep`), but never
 * the newest complete one, so a long outage of the schedule cannot prune the last copy.
 *
 * Off the host (contracts/backups.ts): with `offsite`, each complete backup is packed into one
 * file (`<name>.tar`) and shipped to the backup store of the service's `targetHost`; after each
 * run, whatever the store does not hold yet is shipped again. `list` says where each copy lives,
 * and `path` of a backup whose folder is gone (the volume lost) fetches and unpacks it first.
 */
import { Cron } from "croner";
import { copyFile, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Counter, Gauge, type Registry } from "prom-client";
import { packFolder, shipFailed, unpackFolder, type BackupLocation, type Offsite, type ShipFailure } from "./backupShip";
import type { Logger } from "./log";

const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/;

export interface BackupPolicy {
  /** Five-field cron expression in UTC; none means backups only on demand. */
  readonly schedule?: string;
  /** Backups older than this are deleted (the newest is always kept). */
  readonly retentionDays?: number;
  /** At most this many backups are kept (the newest ones). */
  readonly keep?: number;
}

export interface BackupInfo {
  readonly name: string;
  readonly takenAt: string;
  /** Where the backup lives, when it is shipped off the host: the replica's volume and/or the target's store. */
  readonly copies?: readonly BackupLocation[];
  /** Why the store refused the backup when it was last shipped (507: the service's quota there is full). */
  readonly shipFailed?: ShipFailure;
}

export type { Offsite } from "./backupShip";

const ARCHIVE = ".tar";

/** `20261127T020000123Z` for a date; sorts in time order. */
export function backupName(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, "");
}

/** The time a backup name stands for, or undefined for anything else. */
export function backupTime(name: string): Date | undefined {
  const m = STAMP.exec(name);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number);
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!));
  // Date.UTC rolls month 13 over into the next year: only a name that round-trips is one.
  return Number.isNaN(date.getTime()) || backupName(date) !== name ? undefined : date;
}

/** Throws with a readable message when `schedule` is not a valid five-field cron expression. */
export function checkSchedule(schedule: string): void {
  if (!/^(\S+\s+){4}\S+$/.test(schedule.trim())) throw new Error(`"${schedule}" is not a five-field cron expression such as "0 3 * * *"`);
  try {
    new Cron(schedule, { paused: true, timezone: "Etc/UTC" }).stop();
  } catch (error) {
    throw new Error(`"${schedule}" is not a valid cron expression: ${(error as Error).message}`);
  }
}

/** fsyncs a file or folder (a folder: so a rename in it survives a crash). */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Copies a folder tree file by file, fsyncing each copy and folder. Files that disappear while
 * the copy runs (a message expunged meanwhile) are skipped; `filter` sees paths relative to `from`.
 */
export async function copyTreeDurably(from: string, to: string, filter: (rel: string) => boolean = () => true, rel = ""): Promise<number> {
  await mkdir(to, { recursive: true });
  let files = 0;
  let entries;
  try {
    entries = await readdir(from, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
  for (const entry of entries) {
    const childRel = rel ? `${rel}/${entry.name}` : entry.name;
    if (!filter(childRel)) continue;
    if (entry.isDirectory()) files += await copyTreeDurably(join(from, entry.name), join(to, entry.name), filter, childRel);
    else if (entry.isFile()) {
      try {
        await copyFile(join(from, entry.name), join(to, entry.name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      await fsyncPath(join(to, entry.name));
      files++;
    }
  }
  await fsyncPath(to);
  return files;
}

export interface BackupsOptions {
  /** The backup folder (its own volume in a deployment: `SP_BACKUP_DIR`). */
  readonly dir: string;
  readonly policy: BackupPolicy;
  readonly log: Logger;
  /** Registers serverpark_backup_* metrics when given. */
  readonly registry?: Registry;
  /** Fills `target` (an empty folder) with the role's data; returns the number of files. */
  readonly write: (target: string) => Promise<number>;
  /** For tests. */
  readonly now?: () => Date;
}

/** One role's backups: on a cron schedule and on demand, one at a time, with retention. */
export class Backups {
  private job: Cron | undefined;
  private running: Promise<{ name: string; files: number }> | undefined;
  private readonly now: () => Date;
  private readonly succeeded?: Gauge;
  private readonly failed?: Counter;
  /** Set when the deployment names a backup store (images/runtime/backupShip.ts shipperFromEnv). */
  offsite: Offsite | undefined;

  constructor(private readonly options: BackupsOptions) {
    this.now = options.now ?? (() => new Date());
    if (options.policy.schedule !== undefined) checkSchedule(options.policy.schedule);
    if (options.registry) {
      this.succeeded = new Gauge({
        name: "serverpark_backup_last_success_timestamp_seconds",
        help: "When the last complete backup was written (0: none since start)",
        registers: [options.registry],
      });
      this.failed = new Counter({ name: "serverpark_backup_failures_total", help: "Backups that failed", registers: [options.registry] });
      this.succeeded.set(0);
    }
  }

  get dir(): string {
    return this.options.dir;
  }

  /** The next scheduled run, if any. */
  nextRun(): Date | undefined {
    return this.job?.nextRun() ?? undefined;
  }

  /** Starts the schedule (UTC); a run that fails is logged and counted, the schedule goes on. */
  start(): void {
    const schedule = this.options.policy.schedule;
    if (schedule === undefined || this.job) return;
    this.job = new Cron(schedule, { timezone: "Etc/UTC", unref: true }, () => {
      this.run().catch((error: unknown) => this.options.log.error({ err: error }, "scheduled backup failed"));
    });
    this.options.log.info({ schedule, next: this.nextRun()?.toISOString(), dir: this.options.dir }, "backups scheduled");
  }

  stop(): void {
    this.job?.stop();
    this.job = undefined;
  }

  /** Takes a backup now; a call while one runs waits for that one instead of starting another. */
  run(): Promise<{ name: string; files: number }> {
    this.running ??= this.take().finally(() => (this.running = undefined));
    return this.running;
  }

  private async take(): Promise<{ name: string; files: number }> {
    const { dir, log } = this.options;
    try {
      await mkdir(dir, { recursive: true });
      // Leftovers of a run that crashed are never complete: remove them.
      for (const name of await readdir(dir)) if (name.endsWith(".partial")) await rm(join(dir, name), { recursive: true, force: true });
      let name = backupName(this.now());
      if (await stat(join(dir, name)).catch(() => undefined)) name = backupName(new Date(backupTime(name)!.getTime() + 1));
      const partial = join(dir, `${name}.partial`);
      await mkdir(partial);
      const files = await this.options.write(partial);
      await fsyncPath(partial);
      await rename(partial, join(dir, name));
      await fsyncPath(dir);
      this.succeeded?.set(backupTime(name)!.getTime() / 1000);
      const pruned = await this.prune();
      log.info({ name, files, pruned }, "backup written");
      await this.shipPending();
      return { name, files };
    } catch (error) {
      this.failed?.inc();
      throw error;
    }
  }

  /** Ships every local backup the store does not hold yet; failures are logged, the next run tries again. */
  async shipPending(): Promise<void> {
    if (!this.offsite) return;
    const { shipper } = this.offsite;
    try {
      const stored = new Set((await shipper.list()).filter((c) => c.replica === shipper.options.replica).map((c) => c.name));
      for (const { name } of await this.localList()) {
        if (stored.has(`${name}${ARCHIVE}`)) continue;
        const archive = await packFolder(this.options.dir, name);
        try {
          await shipper.ship(archive, `${name}${ARCHIVE}`);
        } finally {
          await rm(archive, { force: true });
        }
      }
    } catch (error) {
      this.options.log.error({ err: error, host: shipper.options.host }, "shipping backups to the target host failed; the next run tries again");
    }
  }

  /** Complete backups, oldest first, with where each copy lives when they are shipped. */
  async list(): Promise<BackupInfo[]> {
    const local = await this.localList();
    if (!this.offsite) return local;
    const { shipper, host } = this.offsite;
    const stored = await shipper.list().catch((error: unknown) => {
      this.options.log.warn({ err: error }, "backup store did not answer; listing local backups only");
      return [];
    });
    const byName = new Map<string, BackupInfo>(
      local.map((b) => [b.name, { ...b, copies: [{ kind: "volume", host }], ...shipFailed(shipper, `${b.name}${ARCHIVE}`) }]),
    );
    for (const c of stored) {
      const name = c.name.endsWith(ARCHIVE) ? c.name.slice(0, -ARCHIVE.length) : "";
      if (backupTime(name) === undefined) continue;
      const at: BackupLocation = { ...shipper.location, ...(c.replica !== shipper.options.replica ? { replica: c.replica } : {}) };
      const here = byName.get(name);
      byName.set(name, { name, takenAt: backupTime(name)!.toISOString(), copies: [...(here?.copies ?? []), at] });
    }
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  private async localList(): Promise<BackupInfo[]> {
    const names = await readdir(this.options.dir).catch(() => [] as string[]);
    return names
      .filter((n) => backupTime(n) !== undefined)
      .sort()
      .map((name) => ({ name, takenAt: backupTime(name)!.toISOString() }));
  }

  /** The folder of a complete backup (fetched from the store when only it holds it), or an error naming the ones that exist. */
  async path(name: string): Promise<string> {
    if (backupTime(name) === undefined) throw new Error(`"${name}" is not a backup name (expected e.g. 20261127T020000123Z)`);
    const path = join(this.options.dir, name);
    if (!(await stat(path).catch(() => undefined)) && this.offsite) {
      await mkdir(this.options.dir, { recursive: true });
      const archive = join(this.options.dir, `.${name}.fetch.tar`);
      try {
        await this.offsite.shipper.fetch(`${name}${ARCHIVE}`, archive);
        await unpackFolder(archive, this.options.dir, name);
      } finally {
        await rm(archive, { force: true });
      }
    }
    if (!(await stat(path).catch(() => undefined))) throw new Error(`no backup "${name}"`);
    return path;
  }

  /** Deletes what retention no longer needs; returns the names deleted. */
  async prune(): Promise<string[]> {
    const { retentionDays, keep } = this.options.policy;
    const all = await this.localList();
    const cutoff = retentionDays === undefined ? -Infinity : this.now().getTime() - retentionDays * 86_400_000;
    const doomed = all.filter((b, i) => {
      const newest = i === all.length - 1;
      if (newest) return false;
      const tooOld = new Date(b.takenAt).getTime() < cutoff;
      const beyondKeep = keep !== undefined && i < all.length - keep;
      return tooOld || beyondKeep;
    });
    for (const b of doomed) await rm(join(this.options.dir, b.name), { recursive: true, force: true });
    return doomed.map((b) => b.name);
  }
}
