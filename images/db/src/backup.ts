/**
 * Dumps for backup: `pg_dump --format=custom` of every database, on a schedule and on
 * demand, into the backup folder (`$SP_BACKUP_DIR`, a volume of its own in a deployment;
 * else <data>/backups/). The schedule is the stack's `services[].backup.schedule` (UTC cron)
 * when declared, else `settings.backup.intervalMinutes`. A dump is written under a temporary
 * name, fsynced and then renamed, so a listed backup is always complete; per database the
 * newest `keep` are kept, older than the stack's `retentionDays` are deleted, and the newest
 * dump is never deleted.
 * `restore` replays one with `pg_restore --clean --if-exists --single-transaction`, so a
 * failed restore changes nothing.
 *
 * Off the host (contracts/backups.ts): with a store (`offsite`), every dump is shipped to the
 * backup store of the service's `targetHost` after it is written, and any dump the store does
 * not hold yet is shipped again after each run; the list names every place a dump lives, and a
 * restore of a dump whose local copy is gone (the volume lost with the replica) fetches it
 * from the store first.
 */
import { Cron } from "croner";
import { execFile } from "node:child_process";
import { chownSync, mkdirSync } from "node:fs";
import { chown, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { backupName, checkSchedule, type BackupPolicy } from "../../runtime/backups";
import { shipFailed, type BackupLocation, type Offsite, type ShipFailure } from "../../runtime/backupShip";
import type { Logger } from "../../runtime/log";
import type { DbSettings } from "../../../contracts/settings/db";

/** What dumps and restores need of the server: its programs and how to run them as the superuser (./postgres.ts Postgres, or ./ha/app.ts for an HA node). */
export interface DbTools {
  readonly options: { readonly binDir: string; readonly runAs?: { readonly uid: number; readonly gid: number } };
  toolOptions(): { env: NodeJS.ProcessEnv; uid?: number; gid?: number };
}

const run = promisify(execFile);

export interface BackupInfo {
  readonly file: string;
  readonly database: string;
  readonly bytes: number;
  readonly createdAt: string;
  /** Where the dump lives: the replica's backup volume and/or the target host's store. */
  readonly copies?: readonly BackupLocation[];
  /** Why the store refused the dump when it was last shipped (507: the service's quota there is full). */
  readonly shipFailed?: ShipFailure;
}

export type { Offsite } from "../../runtime/backupShip";

const NAME = /^([a-z_][a-z0-9_]*)-(\d{8}T\d{6}\d{3}Z)\.dump$/;

export class Backups {
  private timer: NodeJS.Timeout | undefined;
  private job: Cron | undefined;
  private running: Promise<BackupInfo[]> | undefined;
  /** Set by the app when the deployment names a backup store. */
  offsite: Offsite | undefined;

  constructor(
    private readonly postgres: DbTools,
    readonly dir: string,
    private readonly settings: DbSettings,
    private readonly log: Logger,
    /** The stack's declared backup (schedule, retentionDays); overrides intervalMinutes. */
    private readonly policy: BackupPolicy = {},
    private readonly now: () => Date = () => new Date(),
  ) {
    if (policy.schedule !== undefined) checkSchedule(policy.schedule);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const runAs = postgres.options.runAs;
    if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  }

  start(): void {
    const scheduled = () => void this.dumpAll().catch((error: unknown) => this.log.error({ err: error }, "scheduled backup failed"));
    if (this.policy.schedule !== undefined) {
      this.job = new Cron(this.policy.schedule, { timezone: "Etc/UTC", unref: true }, scheduled);
      this.log.info({ schedule: this.policy.schedule, next: this.job.nextRun()?.toISOString() }, "dumps scheduled");
      return;
    }
    const minutes = this.settings.backup.intervalMinutes;
    if (minutes <= 0) return;
    this.timer = setInterval(scheduled, minutes * 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.job?.stop();
  }

  /** The next scheduled dump, if a schedule is declared. */
  nextRun(): Date | undefined {
    return this.job?.nextRun() ?? undefined;
  }

  /** One dump per database; concurrent calls share the run in progress. */
  dumpAll(): Promise<BackupInfo[]> {
    this.running ??= this.doDumpAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async doDumpAll(): Promise<BackupInfo[]> {
    const out: BackupInfo[] = [];
    for (const database of this.settings.databases) {
      const stamp = backupName(this.now());
      const file = `${database}-${stamp}.dump`;
      const tmp = join(this.dir, `.${file}.partial`);
      await run(join(this.postgres.options.binDir, "pg_dump"), ["--format=custom", "--file", tmp, database], {
        ...this.postgres.toolOptions(),
        timeout: 30 * 60_000,
      });
      const handle = await open(tmp, "r");
      await handle.sync();
      await handle.close();
      await rename(tmp, join(this.dir, file));
      const dir = await open(this.dir, "r");
      await dir.sync();
      await dir.close();
      const info = await stat(join(this.dir, file));
      out.push({ file, database, bytes: info.size, createdAt: info.mtime.toISOString() });
      this.log.info({ file, bytes: info.size }, "backup written");
    }
    await this.prune();
    await this.shipPending();
    return out;
  }

  /** Ships every local dump the store does not hold yet; failures are logged, the next run tries again. */
  async shipPending(): Promise<void> {
    if (!this.offsite) return;
    const { shipper } = this.offsite;
    try {
      const stored = new Set((await shipper.list()).filter((c) => c.replica === shipper.options.replica).map((c) => c.name));
      for (const b of await this.localList()) if (!stored.has(b.file)) await shipper.ship(join(this.dir, b.file));
    } catch (error) {
      this.log.error({ err: error, host: shipper.options.host }, "shipping backups to the target host failed; the next run tries again");
    }
  }

  /** Every dump, with where each copy lives (the store's too, when there is one and it answers). */
  async list(): Promise<BackupInfo[]> {
    const local = await this.localList();
    if (!this.offsite) return local;
    const { shipper, host } = this.offsite;
    const volume: BackupLocation = { kind: "volume", host };
    const stored = await shipper.list().catch((error: unknown) => {
      this.log.warn({ err: error }, "backup store did not answer; listing local dumps only");
      return [];
    });
    const byFile = new Map<string, BackupInfo>(local.map((b) => [b.file, { ...b, copies: [volume], ...shipFailed(shipper, b.file) }]));
    for (const c of stored) {
      const m = NAME.exec(c.name);
      if (!m) continue;
      const here = byFile.get(c.name);
      const at: BackupLocation = { ...shipper.location, ...(c.replica !== shipper.options.replica ? { replica: c.replica } : {}) };
      byFile.set(
        c.name,
        here ? { ...here, copies: [...(here.copies ?? []), at] } : { file: c.name, database: m[1]!, bytes: c.bytes, createdAt: c.takenAt, copies: [at] },
      );
    }
    return [...byFile.values()].sort((a, b) => a.file.localeCompare(b.file));
  }

  private async localList(): Promise<BackupInfo[]> {
    const names = (await readdir(this.dir)).filter((n) => NAME.test(n)).sort();
    return Promise.all(
      names.map(async (file) => {
        const info = await stat(join(this.dir, file));
        return { file, database: NAME.exec(file)![1]!, bytes: info.size, createdAt: info.mtime.toISOString() };
      }),
    );
  }

  private async prune(): Promise<void> {
    const byDb = new Map<string, string[]>();
    for (const b of await this.localList()) byDb.set(b.database, [...(byDb.get(b.database) ?? []), b.file]);
    const days = this.policy.retentionDays;
    const cutoff = days === undefined ? undefined : backupName(new Date(this.now().getTime() - days * 86_400_000));
    for (const files of byDb.values()) {
      // Oldest first; the newest is never deleted.
      const doomed = files.slice(0, -1).filter((f, i) => i < files.length - this.settings.backup.keep || (cutoff !== undefined && NAME.exec(f)![2]! < cutoff));
      for (const old of doomed) await unlink(join(this.dir, old));
    }
  }

  /** Restores a dump into its database (or `database`); the file must be one of ours. */
  async restore(file: string, database?: string): Promise<void> {
    const m = NAME.exec(file);
    if (!m) throw new Error(`not a backup file name: ${file}`);
    const target = database ?? m[1]!;
    if (!this.settings.databases.includes(target)) throw new Error(`unknown database ${target}`);
    const path = join(this.dir, file);
    if (this.offsite && !(await stat(path).catch(() => undefined))) {
      await this.offsite.shipper.fetch(file, path);
      const runAs = this.postgres.options.runAs;
      if (runAs) await chown(path, runAs.uid, runAs.gid);
    }
    await run(
      join(this.postgres.options.binDir, "pg_restore"),
      ["--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--dbname", target, path],
      { ...this.postgres.toolOptions(), timeout: 30 * 60_000 },
    );
    this.log.info({ file, database: target }, "backup restored");
  }
}
