/**
 * The SFTP server (SSH with the sftp subsystem only: no shell, no exec, no forwarding).
 * ssh2 does SSH and the SFTP wire format; each SFTP operation is implemented here on top of
 * UserTree, so uploads are atomic and versioned and every path stays inside the user's tree.
 * `/.versions/<path>/@v-…` is a read-only view of the previous versions of `<path>`.
 */
import { constants, type Stats } from "node:fs";
import { lstat, open, readdir, stat, type FileHandle } from "node:fs/promises";
import ssh2 from "ssh2";
import type { SFTPWrapper, Attributes, FileEntry } from "ssh2";
import type { Logger } from "../../runtime/log";
import type { Authenticator } from "../../runtime/auth";
import { classify, PathError, VERSIONS_DIR, virtualPath } from "./paths";
import { READ_AHEAD_BYTES, ReadAhead } from "./readahead";
import { readReply, sendReply } from "./sftpWire";
import type { SocketFlow } from "./ssh";
import type { Upload, UserTree } from "./tree";

const { utils } = ssh2;
const { OPEN_MODE, STATUS_CODE } = utils.sftp;
/** READs this large are read on their own, straight into the reply; smaller ones use read-ahead (readahead.ts). */
const DIRECT_READ = 64 * 1024;

type Handle =
  | { kind: "read"; fh: FileHandle; ahead?: ReadAhead }
  | { kind: "upload"; upload: Upload; append: boolean; tree: UserTree; failed?: string }
  | { kind: "dir"; entries: FileEntry[] | undefined; path: string; virtualRoot: boolean };

export interface SftpDeps {
  readonly trees: ReadonlyMap<string, UserTree>;
  readonly auth: Authenticator;
  readonly log: Logger;
  readonly onUpload?: (bytes: number) => void;
}

function attrsOf(s: Stats): Attributes {
  return { mode: s.mode, uid: 1000, gid: 1000, size: s.size, atime: Math.floor(s.atimeMs / 1000), mtime: Math.floor(s.mtimeMs / 1000) };
}

function longname(name: string, s: Stats): string {
  const type = s.isDirectory() ? "d" : "-";
  const perms = s.isDirectory() ? "rwx------" : "rw-------";
  const date = s.mtime.toUTCString().slice(5, 22);
  return `${type}${perms} 1 user user ${String(s.size).padStart(10)} ${date} ${name}`;
}

function statusOf(error: unknown): [number, string] {
  if (error instanceof PathError) {
    const code = error.code === "no-such-file" ? STATUS_CODE.NO_SUCH_FILE : error.code === "permission" ? STATUS_CODE.PERMISSION_DENIED : STATUS_CODE.FAILURE;
    return [code, error.message];
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return [STATUS_CODE.NO_SUCH_FILE, "No such file"];
  if (code === "EACCES" || code === "EPERM" || code === "ELOOP") return [STATUS_CODE.PERMISSION_DENIED, "Permission denied"];
  if (code === "EEXIST") return [STATUS_CODE.FAILURE, "Already exists"];
  if (code === "ENOTEMPTY") return [STATUS_CODE.FAILURE, "Folder not empty"];
  return [STATUS_CODE.FAILURE, "Failure"];
}

/** Serves one SFTP channel for `tree`; `flow` bounds the connection's work in flight and open handles (ssh.ts). */
export function serveSftp(sftp: SFTPWrapper, tree: UserTree, deps: SftpDeps, flow: SocketFlow): void {
  const unwatch = flow.watch(sftp);
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  const addHandle = (h: Handle) => {
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id);
    return buf;
  };
  const getHandle = (buf: Buffer) => (buf.length === 4 ? handles.get(buf.readUInt32BE(0)) : undefined);
  /** Resolves a client path; the versions view is read-only. */
  const resolve = (path: string, write: boolean) => {
    const { versions, rel } = classify(virtualPath(path));
    if (versions && write) throw new PathError("the .versions view is read-only");
    return { versions, rel, real: versions ? tree.version(rel) : tree.live(rel) };
  };
  /** A file open for reading gets read-ahead while the connection's budget for it lasts (readahead.ts). */
  const reading = (fh: FileHandle): Handle => {
    if (flow.readAheadBytes + READ_AHEAD_BYTES > flow.limits.sftpReadAheadBytes) return { kind: "read", fh };
    flow.readAheadBytes += READ_AHEAD_BYTES;
    return { kind: "read", fh, ahead: new ReadAhead(fh) };
  };
  const release = (h: Handle) => {
    flow.handles--;
    if (h.kind === "read" && h.ahead) flow.readAheadBytes -= READ_AHEAD_BYTES;
  };
  const takeHandle = (buf: Buffer) => {
    const h = getHandle(buf);
    if (h && handles.delete(buf.readUInt32BE(0))) release(h);
    return h;
  };
  /** Takes one of the connection's handle slots for `make` (refused when all are taken) and answers with the new handle. */
  const withHandle = async (reqId: number, make: () => Promise<Handle>) => {
    if (flow.handles >= flow.limits.sftpHandles) throw new PathError(`too many open handles (at most ${flow.limits.sftpHandles})`, "failure");
    flow.handles++;
    let h: Handle;
    try {
      h = await make();
    } catch (error) {
      flow.handles--;
      throw error;
    }
    sftp.handle(reqId, addHandle(h));
  };
  // Every request answers exactly once, whatever fails inside the handler; at most
  // limits.sftpInflight run at once per connection (the others wait, and the socket is not read).
  const guard = (reqId: number, fn: () => Promise<void>, bytes = 0, carried = false) => {
    flow.run(
      () =>
        fn().catch((error: unknown) => {
          const [code, message] = statusOf(error);
          if (code === STATUS_CODE.FAILURE && !(error instanceof PathError)) deps.log.warn({ err: error }, "sftp operation failed");
          sftp.status(reqId, code, message);
        }),
      bytes,
      carried,
    );
  };

  sftp.on("OPEN", (reqId, filename, flags) =>
    guard(reqId, async () => {
      const write = (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT | OPEN_MODE.TRUNC)) !== 0;
      const { rel, real } = resolve(filename, write);
      await withHandle(reqId, async () => {
        if (!write) {
          await tree.confine(real);
          const fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
          if (!(await fh.stat()).isFile()) {
            await fh.close();
            throw new PathError("not a file", "failure");
          }
          return reading(fh);
        }
        const existing = await tree.confineWrite(rel);
        if (existing && flags & OPEN_MODE.EXCL) throw new PathError("file exists", "failure");
        if (!existing && !(flags & OPEN_MODE.CREAT)) throw new PathError("no such file", "no-such-file");
        if (existing && !existing.isFile()) throw new PathError("not a regular file", "failure");
        const upload = await tree.beginUpload(rel, !(flags & OPEN_MODE.TRUNC));
        return { kind: "upload", upload, append: (flags & OPEN_MODE.APPEND) !== 0, tree };
      });
    }),
  );

  sftp.on("READ", (reqId, handle, offset, length) =>
    guard(
      reqId,
      async () => {
        const h = getHandle(handle);
        const fh = h?.kind === "read" ? h.fh : h?.kind === "upload" ? h.upload.handle : undefined;
        if (!fh) throw new PathError("bad handle", "failure");
        const size = Math.min(length, flow.limits.sftpReadBytes);
        if (size >= DIRECT_READ || !(h?.kind === "read" && h.ahead)) {
          // One read straight into the reply's packet (sftpWire.ts): no copy, no new buffer.
          const packet = await readReply(flow.replies, reqId, fh, offset, size);
          flow.coalesce();
          if (packet) sendReply(sftp, flow.replies, packet);
          else sftp.status(reqId, STATUS_CODE.EOF);
          return;
        }
        // ssh2 copies `data` into its packet: a view of a read-ahead buffer is fine here.
        const answer = (data: Buffer) => {
          flow.coalesce();
          if (data.length === 0) sftp.status(reqId, STATUS_CODE.EOF);
          else sftp.data(reqId, data);
        };
        await h.ahead.read(offset, size, answer);
      },
      Math.min(length, flow.limits.sftpReadBytes),
    ),
  );

  sftp.on("WRITE", (reqId, handle, offset, data) =>
    guard(
      reqId,
      async () => {
        const h = getHandle(handle);
        if (h?.kind !== "upload") throw new PathError("not open for writing", "failure");
        const at = h.append ? h.upload.size : offset;
        const end = at + data.length;
        if (!(await h.tree.reserve(h.upload, end))) {
          // Remember it: the CLOSE that follows must drop the upload, not commit a truncated file.
          h.failed = `quota of ${h.tree.quotaBytes} bytes exceeded`;
          throw new PathError(h.failed, "failure");
        }
        await h.upload.handle.write(data, 0, data.length, at).catch((error: unknown) => {
          h.failed = "write failed";
          throw error;
        });
        h.upload.size = Math.max(h.upload.size, end);
        sftp.status(reqId, STATUS_CODE.OK);
      },
      data.length,
      true,
    ),
  );

  sftp.on("CLOSE", (reqId, handle) =>
    guard(reqId, async () => {
      const h = takeHandle(handle);
      if (!h) throw new PathError("bad handle", "failure");
      if (h.kind === "read") await h.fh.close();
      if (h.kind === "upload" && h.failed) {
        await h.tree.abort(h.upload);
        throw new PathError(`upload dropped: ${h.failed}`, "failure");
      }
      if (h.kind === "upload") {
        await h.tree.commit(h.upload);
        deps.onUpload?.(h.upload.size);
      }
      sftp.status(reqId, STATUS_CODE.OK);
    }),
  );

  const statHandler = (useLstat: boolean) => (reqId: number, path: string) =>
    guard(reqId, async () => {
      const { real } = resolve(path, false);
      await tree.confine(real);
      sftp.attrs(reqId, attrsOf(await (useLstat ? lstat(real) : stat(real))));
    });
  sftp.on("STAT", statHandler(false));
  sftp.on("LSTAT", statHandler(true));
  sftp.on("FSTAT", (reqId, handle) =>
    guard(reqId, async () => {
      const h = getHandle(handle);
      const fh = h?.kind === "read" ? h.fh : h?.kind === "upload" ? h.upload.handle : undefined;
      if (!fh) throw new PathError("bad handle", "failure");
      sftp.attrs(reqId, attrsOf(await fh.stat()));
    }),
  );
  // Ownership and permissions are the server's business; times are not kept either.
  sftp.on("SETSTAT", (reqId) => sftp.status(reqId, STATUS_CODE.OK));
  sftp.on("FSETSTAT", (reqId) => sftp.status(reqId, STATUS_CODE.OK));

  sftp.on("OPENDIR", (reqId, path) =>
    guard(reqId, async () => {
      const { versions, rel, real } = resolve(path, false);
      await withHandle(reqId, async () => {
        await tree.confine(real);
        if (!(await stat(real)).isDirectory()) throw new PathError("not a folder", "failure");
        return { kind: "dir", entries: undefined, path: real, virtualRoot: !versions && rel === "" };
      });
    }),
  );
  sftp.on("READDIR", (reqId, handle) =>
    guard(reqId, async () => {
      const h = getHandle(handle);
      if (h?.kind !== "dir") throw new PathError("bad handle", "failure");
      if (h.entries === undefined) {
        const names = await readdir(h.path);
        const entries: FileEntry[] = [];
        for (const name of names) {
          const s = await lstat(`${h.path}/${name}`).catch(() => undefined);
          if (s && (s.isFile() || s.isDirectory())) entries.push({ filename: name, longname: longname(name, s), attrs: attrsOf(s) });
        }
        if (h.virtualRoot) {
          const s = await stat(tree.version(""));
          entries.push({ filename: VERSIONS_DIR, longname: longname(VERSIONS_DIR, s), attrs: attrsOf(s) });
        }
        h.entries = entries;
      }
      const batch = h.entries.splice(0, 100);
      if (batch.length === 0) return void sftp.status(reqId, STATUS_CODE.EOF);
      sftp.name(reqId, batch);
    }),
  );

  sftp.on("REALPATH", (reqId, path) =>
    guard(reqId, async () => {
      const vpath = virtualPath(path);
      sftp.name(reqId, [{ filename: vpath, longname: vpath, attrs: {} as Attributes }]);
    }),
  );
  sftp.on("MKDIR", (reqId, path) => guard(reqId, async () => (await tree.makeDir(resolve(path, true).rel), sftp.status(reqId, STATUS_CODE.OK))));
  sftp.on("RMDIR", (reqId, path) => guard(reqId, async () => (await tree.removeDir(resolve(path, true).rel), sftp.status(reqId, STATUS_CODE.OK))));
  sftp.on("REMOVE", (reqId, path) => guard(reqId, async () => (await tree.remove(resolve(path, true).rel), sftp.status(reqId, STATUS_CODE.OK))));
  sftp.on("RENAME", (reqId, from, to) =>
    guard(reqId, async () => {
      await tree.renamePath(resolve(from, true).rel, resolve(to, true).rel);
      sftp.status(reqId, STATUS_CODE.OK);
    }),
  );
  // Links could point out of the tree: the server never creates or follows them.
  sftp.on("SYMLINK", (reqId) => sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED, "symbolic links are not supported"));
  sftp.on("READLINK", (reqId) => sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED, "symbolic links are not supported"));

  // The client closed its side: close ours too, or OpenSSH's sftp waits for ever.
  sftp.on("end", () => sftp.end());
  // A connection that ends mid-upload leaves nothing behind: unfinished uploads are dropped.
  sftp.on("close", () => {
    for (const h of handles.values()) {
      if (h.kind === "upload") void h.tree.abort(h.upload);
      if (h.kind === "read") void h.fh.close().catch(() => undefined);
    }
    for (const h of handles.values()) release(h);
    handles.clear();
    unwatch();
  });
}
