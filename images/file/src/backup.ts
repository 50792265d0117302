/**
 * Backups of every user's tree to the backup folder (its own volume in a deployment), on the
 * stack's declared schedule through the shared engine (runtime/backups.ts: `.partial`, fsync,
 * rename, retention that never deletes the newest).
 * Consistency: with every user's mutex held, all live files are hard-linked into a snapshot
 * on the data volume — files are never changed in place (tree.ts), so the links freeze one
 * instant of all trees in milliseconds. Uploads then continue while the snapshot is copied.
 * `restore` puts a backup's tree back; what it replaces is kept as versions.
 */
import { copyFile, mkdir, open, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { Backups, copyTreeDurably, type BackupPolicy, type Offsite } from "../../runtime/backups";
import type { BackupLocation } from "../../runtime/backupShip";
import type { Logger } from "../../runtime/log";
import type { FileSettings } from "../../../contracts/settings/file";
import type { UserTree } from "./tree";

const NAME = /^\d{8}T\d{9}Z$/;

export interface FileBackupInfo {
  readonly name: string;
  readonly users: string[];
}

export class FileBackups {
  private timer: NodeJS.Timeout | undefined;
  private readonly engine: Backups;

  /**
   * @param policy the stack's declared backup (services[].backup: UTC cron schedule and
   *   retentionDays); without a schedule, `settings.intervalMinutes` drives the runs.
   */
  constructor(
    private readonly trees: ReadonlyMap<string, UserTree>,
    private readonly snapshotDir: string,
    readonly backupDir: string,
    private readonly settings: FileSettings["backup"],
    private readonly log: Logger,
    private readonly policy: BackupPolicy = {},
    registry?: Registry,
  ) {
    this.engine = new Backups({
      dir: backupDir,
      policy: { ...policy, keep: settings.keep },
      log,
      ...(registry ? { registry } : {}),
      write: (target) => this.snapshotInto(target),
    });
  }

  start(): void {
    if (this.policy.schedule !== undefined) return this.engine.start();
    if (this.settings.intervalMinutes <= 0) return;
    this.timer = setInterval(
      () => void this.run().catch((error: unknown) => this.log.error({ err: error }, "scheduled backup failed")),
      this.settings.intervalMinutes * 60_000,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.engine.stop();
  }

  nextRun(): Date | undefined {
    return this.engine.nextRun();
  }

  run(): Promise<{ name: string; files: number }> {
    return this.engine.run();
  }

  /**
   * With every user's mutex held, all live files are hard-linked into a snapshot on the data
   * volume (instant; files are never changed in place), then copied to the backup folder while
   * uploads go on.
   */
  private async snapshotInto(target: string): Promise<number> {
    const snap = join(this.snapshotDir, `${Date.now()}`);
    await rm(snap, { recursive: true, force: true });
    const releases = await Promise.all([...this.trees.values()].map((t) => t.mutex.acquire()));
    try {
      for (const tree of this.trees.values()) await tree.linkSnapshot(join(snap, tree.name));
    } finally {
      for (const release of releases) release();
    }
    try {
      const files = await copyTreeDurably(snap, target);
      this.log.info({ target, files }, "file snapshot copied");
      return files;
    } finally {
      await rm(snap, { recursive: true, force: true });
    }
  }

  /** Ships every backup to the target host's store (contracts/backups.ts), and restores from it when the local copy is gone. */
  shipTo(offsite: Offsite | undefined): void {
    this.engine.offsite = offsite;
  }

  /** Every backup with the users in it (those of a copy only the target's store holds are known once restored) and where it lives. */
  async list(): Promise<(FileBackupInfo & { copies?: readonly BackupLocation[] })[]> {
    const all = await this.engine.list();
    return Promise.all(
      all.map(async ({ name, copies }) => ({
        name,
        users: await readdir(join(this.backupDir, name)).catch(() => [] as string[]),
        ...(copies ? { copies } : {}),
      })),
    );
  }

  /** Restores every file of `name` for `user` (or all users); current contents become versions. */
  async restore(name: string, user?: string): Promise<number> {
    if (!NAME.test(name)) throw new Error(`not a backup name: ${name}`);
    // Fetches the backup from the target host's store when only it holds it.
    await this.engine.path(name);
    let restored = 0;
    for (const tree of this.trees.values()) {
      if (user && tree.name !== user) continue;
      const root = join(this.backupDir, name, tree.name);
      if (!(await stat(root).catch(() => undefined))) continue;
      restored += await this.restoreDir(tree, root, "");
    }
    return restored;
  }

  private async restoreDir(tree: UserTree, dir: string, rel: string): Promise<number> {
    let n = 0;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        await mkdir(tree.live(childRel), { recursive: true });
        n += await this.restoreDir(tree, join(dir, entry.name), childRel);
      } else if (entry.isFile()) {
        const upload = await tree.beginUpload(childRel, false);
        await upload.handle.close();
        await copyFile(join(dir, entry.name), upload.tmp);
        await tree.commit({ ...upload, handle: await open(upload.tmp, "r+") });
        n++;
      }
    }
    return n;
  }
}
