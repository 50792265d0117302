/**
 * Dumps for backup: `pg_dump --format=custom` of every database, on a schedule and on
 * demand, into <data>/backups/. A dump is written under a temporary name, fsynced and then
 * renamed, so a listed backup is always complete; the newest `keep` per database are kept.
 * `restore` replays one with `pg_restore --clean --if-exists --single-transaction`, so a
 * failed restore changes nothing.
 */
import { execFile } from "node:child_process";
import { chownSync, mkdirSync } from "node:fs";
import { open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "../../runtime/log";
import type { DbSettings } from "../settings";
import type { Postgres } from "./postgres";

const run = promisify(execFile);

export interface BackupInfo {
  readonly file: string;
  readonly database: string;
  readonly bytes: number;
  readonly createdAt: string;
}

const NAME = /^([a-z_][a-z0-9_]*)-(\d{8}T\d{6}\d{3}Z)\.dump$/;

export class Backups {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<BackupInfo[]> | undefined;

  constructor(
    private readonly postgres: Postgres,
    readonly dir: string,
    private readonly settings: DbSettings,
    private readonly log: Logger,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const runAs = postgres.options.runAs;
    if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  }

  start(): void {
    const minutes = this.settings.backup.intervalMinutes;
    if (minutes <= 0) return;
    this.timer = setInterval(() => {
      this.dumpAll().catch((error: unknown) => this.log.error({ err: error }, "scheduled backup failed"));
    }, minutes * 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One dump per database; concurrent calls share the run in progress. */
  dumpAll(): Promise<BackupInfo[]> {
    this.running ??= this.doDumpAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async doDumpAll(): Promise<BackupInfo[]> {
    const out: BackupInfo[] = [];
    for (const database of this.settings.databases) {
      const stamp = new Date().toISOString().replace(/[-:.]/g, "");
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
    return out;
  }

  async list(): Promise<BackupInfo[]> {
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
    for (const b of await this.list()) byDb.set(b.database, [...(byDb.get(b.database) ?? []), b.file]);
    for (const files of byDb.values()) {
      for (const old of files.slice(0, Math.max(0, files.length - this.settings.backup.keep))) await unlink(join(this.dir, old));
    }
  }

  /** Restores a dump into its database (or `database`); the file must be one of ours. */
  async restore(file: string, database?: string): Promise<void> {
    const m = NAME.exec(file);
    if (!m) throw new Error(`not a backup file name: ${file}`);
    const target = database ?? m[1]!;
    if (!this.settings.databases.includes(target)) throw new Error(`unknown database ${target}`);
    await run(
      join(this.postgres.options.binDir, "pg_restore"),
      ["--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--dbname", target, join(this.dir, file)],
      { ...this.postgres.toolOptions(), timeout: 30 * 60_000 },
    );
    this.log.info({ file, database: target }, "backup restored");
  }
}
