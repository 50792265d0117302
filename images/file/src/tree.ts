/**
 * One user's files on the volume, with versions and a quota:
 *
 *   <root>/files/...                 the tree the user sees
 *   <root>/versions/<path>/@v-<ts>   previous contents of <path>, newest last
 *   <root>/tmp/                      uploads in progress (removed at start-up)
 *
 * Files are never changed in place. An upload goes to tmp/, is fsynced, and on CLOSE the old
 * file (if any) is moved into versions/ and the upload renamed over it, both under the tree's
 * mutex, then the folders are fsynced. So a reader sees the old file or the new one, never a
 * mix; a crash leaves no partial file; and of two concurrent writers the later CLOSE wins
 * while the earlier one's content is kept as a version. Deletes and overwriting renames move
 * the old file into versions/ too. Because files are immutable, hard links of them are
 * consistent snapshots (see backup.ts).
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, link, lstat, mkdir, open, readdir, realpath, rename, rm, rmdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { FileSettings } from "../../../contracts/settings/file";
import { Mutex } from "./mutex";
import { PathError, VERSION_PREFIX } from "./paths";

export interface Upload {
  readonly tmp: string;
  readonly handle: FileHandle;
  readonly rel: string;
  /** Largest offset written, for the quota check during WRITE. */
  size: number;
  /** Size of the file this upload replaces (already counted in `used`). */
  readonly oldSize: number;
}

export interface VersionInfo {
  readonly version: string;
  readonly bytes: number;
  readonly savedAt: string;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeSize(path);
    else if (entry.isFile()) total += (await lstat(path)).size;
  }
  return total;
}

export class UserTree {
  readonly mutex = new Mutex();
  private constructor(
    readonly name: string,
    readonly root: string,
    readonly quotaBytes: number,
    private readonly versions: FileSettings["versions"],
    public used: number,
  ) {}

  static async open(name: string, root: string, quotaBytes: number, versions: FileSettings["versions"]): Promise<UserTree> {
    for (const dir of ["files", "versions"]) await mkdir(join(root, dir), { recursive: true, mode: 0o700 });
    await rm(join(root, "tmp"), { recursive: true, force: true });
    await mkdir(join(root, "tmp"), { mode: 0o700 });
    return new UserTree(name, root, quotaBytes, versions, await treeSize(join(root, "files")));
  }

  get filesDir(): string {
    return join(this.root, "files");
  }

  /** Real path of a live file; `rel` comes from paths.classify (already confined). */
  live(rel: string): string {
    return join(this.filesDir, rel);
  }

  /**
   * Throws unless `real` (an existing path) resolves inside this user's root. The server
   * never creates links, so this only matters if one was planted on the volume by hand.
   */
  async confine(real: string): Promise<void> {
    const resolved = await realpath(real);
    const root = await realpath(this.root);
    if (resolved !== root && !resolved.startsWith(`${root}/`)) throw new PathError("path leaves the user's tree");
  }

  /** Real path inside the versions view. */
  version(rel: string): string {
    return join(this.root, "versions", rel);
  }

  /** Starts an upload; with `keepContent` the current file is copied first (SFTP writes without TRUNC). */
  async beginUpload(rel: string, keepContent: boolean): Promise<Upload> {
    if (rel === "") throw new PathError("cannot write the root folder");
    const parent = await stat(dirname(this.live(rel))).catch(() => undefined);
    if (!parent?.isDirectory()) throw new PathError("no such folder", "no-such-file");
    await this.confine(dirname(this.live(rel)));
    const tmp = join(this.root, "tmp", randomBytes(12).toString("hex"));
    let size = 0;
    const current = await lstat(this.live(rel)).catch(() => undefined);
    const oldSize = current?.isFile() ? current.size : 0;
    if (keepContent && current?.isFile()) {
      await copyFile(this.live(rel), tmp);
      size = current.size;
    }
    const handle = await open(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    return { tmp, handle, rel, size, oldSize };
  }

  /** False when growing the upload to `end` bytes would pass the user's quota. */
  fits(upload: Upload, end: number): boolean {
    return this.used - upload.oldSize + Math.max(end, upload.size) <= this.quotaBytes;
  }

  /** Makes the upload the file's content (see the module comment); throws on quota. */
  async commit(upload: Upload): Promise<void> {
    await upload.handle.sync();
    await upload.handle.close();
    const size = (await stat(upload.tmp)).size;
    await this.mutex
      .run(async () => {
        const target = this.live(upload.rel);
        const old = await lstat(target).catch(() => undefined);
        if (old?.isDirectory()) throw new PathError("a folder of that name exists", "failure");
        const oldSize = old?.isFile() ? old.size : 0;
        if (this.used - oldSize + size > this.quotaBytes) throw new PathError(`quota of ${this.quotaBytes} bytes exceeded`, "failure");
        if (old) await this.keepVersion(upload.rel);
        await rename(upload.tmp, target);
        await fsyncDir(dirname(target));
        this.used += size - oldSize;
      })
      .catch(async (error: unknown) => {
        await unlink(upload.tmp).catch(() => undefined);
        throw error;
      });
  }

  async abort(upload: Upload): Promise<void> {
    await upload.handle.close().catch(() => undefined);
    await unlink(upload.tmp).catch(() => undefined);
  }

  /** Moves the live file into versions/ (caller holds the mutex), then applies retention. */
  private async keepVersion(rel: string): Promise<void> {
    const dir = this.version(rel);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[-:.]/g, "");
    await rename(this.live(rel), join(dir, `${VERSION_PREFIX}${stamp}-${randomBytes(3).toString("hex")}`));
    await fsyncDir(dir);
    await this.prune(rel);
  }

  private async prune(rel: string): Promise<void> {
    const list = await this.listVersions(rel);
    const cutoff = Date.now() - this.versions.maxAgeDays * 86_400_000;
    const excess = Math.max(0, list.length - this.versions.keep);
    for (const [i, v] of list.entries()) {
      if (i < excess || Date.parse(v.savedAt) < cutoff) await unlink(join(this.version(rel), v.version)).catch(() => undefined);
    }
  }

  async remove(rel: string): Promise<void> {
    await this.mutex.run(async () => {
      const old = await lstat(this.live(rel)).catch(() => undefined);
      if (!old) throw new PathError("no such file", "no-such-file");
      if (!old.isFile()) throw new PathError("not a file", "failure");
      await this.keepVersion(rel);
      await fsyncDir(dirname(this.live(rel)));
      this.used -= old.size;
    });
  }

  async renamePath(from: string, to: string): Promise<void> {
    await this.mutex.run(async () => {
      const src = await lstat(this.live(from)).catch(() => undefined);
      if (!src) throw new PathError("no such file", "no-such-file");
      const dst = await lstat(this.live(to)).catch(() => undefined);
      if (dst?.isDirectory()) throw new PathError("target is a folder", "failure");
      if (dst) {
        this.used -= dst.size;
        await this.keepVersion(to);
      }
      await rename(this.live(from), this.live(to));
      await fsyncDir(dirname(this.live(to)));
    });
  }

  async makeDir(rel: string): Promise<void> {
    await mkdir(this.live(rel), { mode: 0o700 });
  }

  async removeDir(rel: string): Promise<void> {
    if (rel === "") throw new PathError("cannot remove the root folder");
    await rmdir(this.live(rel));
  }

  /** Versions of a file, oldest first. */
  async listVersions(rel: string): Promise<VersionInfo[]> {
    const dir = this.version(rel);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(VERSION_PREFIX)).sort();
    return Promise.all(
      names.map(async (version) => {
        const info = await stat(join(dir, version));
        return { version, bytes: info.size, savedAt: info.mtime.toISOString() };
      }),
    );
  }

  /** Makes a version the live content again; the content it replaces becomes a version. */
  async restore(rel: string, version: string): Promise<void> {
    if (!version.startsWith(VERSION_PREFIX) || version.includes("/")) throw new PathError("not a version name", "no-such-file");
    const source = join(this.version(rel), version);
    const upload = await this.beginUpload(rel, false);
    await upload.handle.close();
    await unlink(upload.tmp);
    await copyFile(source, upload.tmp).catch(() => {
      throw new PathError("no such version", "no-such-file");
    });
    await this.commit({ ...upload, handle: await open(upload.tmp, "r+") });
  }

  /** Hard-links every live file under `target` (caller holds the mutex). */
  async linkSnapshot(target: string, dir = this.filesDir): Promise<void> {
    await mkdir(target, { recursive: true });
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const from = join(dir, entry.name);
      if (entry.isDirectory()) await this.linkSnapshot(join(target, entry.name), from);
      else if (entry.isFile()) await link(from, join(target, entry.name));
    }
  }
}
