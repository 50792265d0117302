/**
 * Backups of every user's tree to the backup folder (its own volume in a deployment).
 * Consistency: with every user's mutex held, all live files are hard-linked into a snapshot
 * on the data volume — files are never changed in place (tree.ts), so the links freeze one
 * instant of all trees in milliseconds. Uploads then continue while the snapshot is copied
 * to `<backupDir>/<stamp>.partial`, fsynced and renamed to `<stamp>`: a listed backup is
 * always complete. `restore` puts a backup's tree back; what it replaces is kept as versions.
 */
import { copyFile, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../runtime/log";
import type { FileSettings } from "../settings";
import type { UserTree } from "./tree";

const NAME = /^\d{8}T\d{9}Z$/;

async function copyTree(from: string, to: string): Promise<number> {
  await mkdir(to, { recursive: true });
  let files = 0;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (entry.isDirectory()) files += await copyTree(join(from, entry.name), join(to, entry.name));
    else if (entry.isFile()) {
      await copyFile(join(from, entry.name), join(to, entry.name));
      const h = await open(join(to, entry.name), "r");
      await h.sync();
      await h.close();
      files++;
    }
  }
  return files;
}

export interface FileBackupInfo {
  readonly name: string;
  readonly users: string[];
}

export class FileBackups {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly trees: ReadonlyMap<string, UserTree>,
    private readonly snapshotDir: string,
    readonly backupDir: string,
    private readonly settings: FileSettings["backup"],
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.settings.intervalMinutes <= 0) return;
    this.timer = setInterval(
      () => void this.run().catch((error: unknown) => this.log.error({ err: error }, "scheduled backup failed")),
      this.settings.intervalMinutes * 60_000,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async run(): Promise<{ name: string; files: number }> {
    const name = new Date().toISOString().replace(/[-:.]/g, "");
    const snap = join(this.snapshotDir, name);
    await rm(snap, { recursive: true, force: true });
    const releases = await Promise.all([...this.trees.values()].map((t) => t.mutex.acquire()));
    try {
      for (const tree of this.trees.values()) await tree.linkSnapshot(join(snap, tree.name));
    } finally {
      for (const release of releases) release();
    }
    await mkdir(this.backupDir, { recursive: true });
    const partial = join(this.backupDir, `${name}.partial`);
    const files = await copyTree(snap, partial);
    await rename(partial, join(this.backupDir, name));
    const dir = await open(this.backupDir, "r");
    await dir.sync();
    await dir.close();
    await rm(snap, { recursive: true, force: true });
    await this.prune();
    this.log.info({ name, files }, "file backup written");
    return { name, files };
  }

  async list(): Promise<FileBackupInfo[]> {
    const names = (await readdir(this.backupDir).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort();
    return Promise.all(names.map(async (name) => ({ name, users: await readdir(join(this.backupDir, name)) })));
  }

  private async prune(): Promise<void> {
    const all = await this.list();
    for (const old of all.slice(0, Math.max(0, all.length - this.settings.keep))) await rm(join(this.backupDir, old.name), { recursive: true, force: true });
  }

  /** Restores every file of `name` for `user` (or all users); current contents become versions. */
  async restore(name: string, user?: string): Promise<number> {
    if (!NAME.test(name)) throw new Error(`not a backup name: ${name}`);
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
