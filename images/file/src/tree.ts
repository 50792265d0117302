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
 *
 * Quota: live files + versions + uploads in flight never pass `quotaBytes` together, so
 * "upload, delete, repeat" and parallel uploads cannot fill the volume. An upload reserves
 * its bytes as they arrive (`reserve`) and gives the reservation back at commit or abort.
 * Live bytes and reservations must fit by themselves; versions are kept while they fit, and
 * the oldest are evicted to make room for new content.
 *
 * Confinement: every write operation (upload, delete, rename, mkdir, rmdir) checks that the
 * folder it changes resolves inside `files/`, and never follows a link in the last component,
 * so a symbolic link planted on the volume cannot lead a write outside the tree.
 */
import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { copyFile, link, lstat, mkdir, open, readdir, realpath, rename, rm, rmdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { FileSettings } from "../../../contracts/settings/file";
import { Mutex } from "./mutex";
import { PathError, VERSION_PREFIX } from "./paths";

export interface Upload {
  readonly tmp: string;
  readonly handle: FileHandle;
  readonly rel: string;
  /** Bytes reserved for this upload against the quota: the largest offset written so far. */
  size: number;
  /** Size of the file this upload replaces (already counted as live bytes). */
  readonly oldSize: number;
  /** The reservation was given back (commit or abort). */
  settled?: boolean;
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

function quotaError(limit: number): PathError {
  return new PathError(`quota of ${limit} bytes exceeded`, "failure");
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
  /** Bytes reserved by uploads in flight (their temporary files). */
  inflight = 0;
  private constructor(
    readonly name: string,
    readonly root: string,
    readonly quotaBytes: number,
    private readonly versions: FileSettings["versions"],
    /** Bytes of live files. */
    public used: number,
    /** Bytes of kept versions. */
    public versionBytes: number,
  ) {}

  /** Everything that counts against the quota. */
  get total(): number {
    return this.used + this.versionBytes + this.inflight;
  }

  static async open(name: string, root: string, quotaBytes: number, versions: FileSettings["versions"]): Promise<UserTree> {
    for (const dir of ["files", "versions"]) await mkdir(join(root, dir), { recursive: true, mode: 0o700 });
    await rm(join(root, "tmp"), { recursive: true, force: true });
    await mkdir(join(root, "tmp"), { mode: 0o700 });
    return new UserTree(name, root, quotaBytes, versions, await treeSize(join(root, "files")), await treeSize(join(root, "versions")));
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
  async confine(real: string, base = this.root): Promise<void> {
    const resolved = await realpath(real);
    const root = await realpath(base);
    if (resolved !== root && !resolved.startsWith(`${root}/`)) throw new PathError("path leaves the user's tree");
  }

  /**
   * For a write to `rel`: the folder holding it must resolve inside the live tree, and the
   * last component must not be a link (returns its lstat, undefined if it does not exist).
   */
  async confineWrite(rel: string): Promise<Stats | undefined> {
    await this.confine(dirname(this.live(rel)), this.filesDir).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new PathError("no such folder", "no-such-file");
      throw error;
    });
    const st = await lstat(this.live(rel)).catch(() => undefined);
    if (st?.isSymbolicLink()) throw new PathError("symbolic links are not followed");
    return st;
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
    const current = await this.confineWrite(rel);
    if (current?.isDirectory()) throw new PathError("a folder of that name exists", "failure");
    const tmp = join(this.root, "tmp", randomBytes(12).toString("hex"));
    const oldSize = current?.isFile() ? current.size : 0;
    const size = keepContent ? oldSize : 0;
    if (!(await this.take(size))) throw quotaError(this.quotaBytes);
    try {
      if (size > 0) await copyFile(this.live(rel), tmp);
      const handle = await open(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      return { tmp, handle, rel, size, oldSize };
    } catch (error) {
      // The bytes leave the disk before their reservation is given back (see release()).
      await unlink(tmp).catch(() => undefined);
      this.inflight -= size;
      throw error;
    }
  }

  /**
   * Reserves `bytes` more for an upload in flight: false when live files and reservations
   * would pass the quota; versions are evicted (oldest first) when they are what is in the way.
   */
  private async take(bytes: number): Promise<boolean> {
    if (bytes <= 0) return true;
    if (this.used + this.inflight + bytes > this.quotaBytes) return false;
    if (this.total + bytes > this.quotaBytes) {
      await this.mutex.run(() => this.evict(this.total + bytes - this.quotaBytes));
      // Other uploads may have reserved while the eviction ran.
      if (this.total + bytes > this.quotaBytes) return false;
    }
    this.inflight += bytes;
    return true;
  }

  /** Grows the upload's reservation to `end` bytes; false (nothing reserved) when that would pass the quota. */
  async reserve(upload: Upload, end: number): Promise<boolean> {
    if (upload.settled) return false;
    const more = end - upload.size;
    if (more <= 0) return true;
    if (!(await this.take(more))) return false;
    upload.size += more;
    return true;
  }

  /** Cuts the upload to `size` bytes (REST + STOR), giving back the rest of its reservation. */
  async truncate(upload: Upload, size: number): Promise<void> {
    await upload.handle.truncate(size);
    if (size < upload.size) {
      this.inflight -= upload.size - size;
      upload.size = size;
    }
  }

  /**
   * Gives the upload's reservation back. Only once its bytes are off the disk (unlinked) or
   * counted as live (renamed into place, in the same step): a reservation released while the
   * temporary file still holds its bytes would let another upload take them too, and the disk
   * would hold more than the quota.
   */
  private release(upload: Upload): void {
    if (upload.settled) return;
    upload.settled = true;
    this.inflight -= upload.size;
  }

  /** Makes the upload the file's content (see the module comment); throws on quota. */
  async commit(upload: Upload): Promise<void> {
    try {
      await upload.handle.sync();
      await upload.handle.close();
      const size = (await stat(upload.tmp)).size;
      await this.mutex.run(async () => {
        const old = await this.confineWrite(upload.rel);
        if (old?.isDirectory()) throw new PathError("a folder of that name exists", "failure");
        const oldSize = old?.isFile() ? old.size : 0;
        // The old content becomes a version (evictable); the new one and every other upload must
        // fit (this upload's reservation is still in `inflight`, and becomes `size` live bytes).
        if (this.used - oldSize + size + this.inflight - upload.size > this.quotaBytes) throw quotaError(this.quotaBytes);
        const target = this.live(upload.rel);
        if (old) await this.keepVersion(upload.rel, oldSize);
        await rename(upload.tmp, target);
        // The reservation becomes live bytes in one step: no moment where neither counts them.
        this.release(upload);
        this.used += size;
        await fsyncDir(dirname(target));
        if (this.total > this.quotaBytes) await this.evict(this.total - this.quotaBytes);
      });
    } catch (error) {
      await unlink(upload.tmp).catch(() => undefined);
      this.release(upload);
      throw error;
    }
  }

  async abort(upload: Upload): Promise<void> {
    await upload.handle.close().catch(() => undefined);
    await unlink(upload.tmp).catch(() => undefined);
    this.release(upload);
  }

  /** Deletes the oldest versions of any file until `bytes` are freed or none is left (caller holds the mutex). */
  private async evict(bytes: number): Promise<void> {
    const all: { path: string; name: string; size: number }[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && entry.name.startsWith(VERSION_PREFIX)) all.push({ path, name: entry.name, size: (await lstat(path)).size });
      }
    };
    await walk(join(this.root, "versions"));
    // Names are @v-<UTC timestamp>-<random>: sorting them sorts by age.
    all.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    for (const v of all) {
      if (bytes <= 0) return;
      await unlink(v.path);
      this.versionBytes -= v.size;
      bytes -= v.size;
    }
  }

  /** Moves the live file (`size` bytes) into versions/ (caller holds the mutex), then applies retention. */
  private async keepVersion(rel: string, size: number): Promise<void> {
    const dir = this.version(rel);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[-:.]/g, "");
    await rename(this.live(rel), join(dir, `${VERSION_PREFIX}${stamp}-${randomBytes(3).toString("hex")}`));
    await fsyncDir(dir);
    this.used -= size;
    this.versionBytes += size;
    await this.prune(rel);
  }

  private async prune(rel: string): Promise<void> {
    const list = await this.listVersions(rel);
    const cutoff = Date.now() - this.versions.maxAgeDays * 86_400_000;
    const excess = Math.max(0, list.length - this.versions.keep);
    for (const [i, v] of list.entries()) {
      if (i < excess || Date.parse(v.savedAt) < cutoff) {
        const gone = await unlink(join(this.version(rel), v.version)).then(
          () => true,
          () => false,
        );
        if (gone) this.versionBytes -= v.bytes;
      }
    }
  }

  async remove(rel: string): Promise<void> {
    await this.mutex.run(async () => {
      const old = await this.confineWrite(rel);
      if (!old) throw new PathError("no such file", "no-such-file");
      if (!old.isFile()) throw new PathError("not a file", "failure");
      await this.keepVersion(rel, old.size);
      await fsyncDir(dirname(this.live(rel)));
    });
  }

  async renamePath(from: string, to: string): Promise<void> {
    await this.mutex.run(async () => {
      const src = await this.confineWrite(from);
      if (!src) throw new PathError("no such file", "no-such-file");
      if (!src.isFile() && !src.isDirectory()) throw new PathError("not a file or folder", "failure");
      const dst = await this.confineWrite(to);
      if (dst?.isDirectory()) throw new PathError("target is a folder", "failure");
      if (dst && !dst.isFile()) throw new PathError("target is not a file", "failure");
      if (dst) await this.keepVersion(to, dst.size);
      await rename(this.live(from), this.live(to));
      await fsyncDir(dirname(this.live(to)));
      if (dirname(from) !== dirname(to)) await fsyncDir(dirname(this.live(from)));
    });
  }

  /** Creates a folder and fsyncs its parent, so the folder survives a crash. */
  async makeDir(rel: string): Promise<void> {
    if (rel === "") throw new PathError("the root folder exists", "failure");
    await this.confineWrite(rel);
    await mkdir(this.live(rel), { mode: 0o700 });
    await fsyncDir(dirname(this.live(rel)));
  }

  async removeDir(rel: string): Promise<void> {
    if (rel === "") throw new PathError("cannot remove the root folder");
    const st = await this.confineWrite(rel);
    if (!st) throw new PathError("no such folder", "no-such-file");
    if (!st.isDirectory()) throw new PathError("not a folder", "failure");
    await rmdir(this.live(rel));
    await fsyncDir(dirname(this.live(rel)));
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
