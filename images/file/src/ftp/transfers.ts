/**
 * FTP transfers on the data channel: LIST/NLST/MLSD, RETR and STOR/APPE (with REST offsets),
 * each answered "150" before the data connection is awaited, then "226" or the error's reply;
 * ABOR of a running transfer. Uploads go through UserTree, so they are atomic, versioned and
 * quota-checked as they stream.
 */
import { constants, type Stats } from "node:fs";
import { lstat, open, readdir, stat, type FileHandle } from "node:fs/promises";
import { Transform, Writable, type Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PathError, VERSIONS_DIR } from "../paths";
import type { Upload } from "../tree";
import type { DataUse } from "./data-channel";
import { listLine, mlstFacts } from "./format";
import { FtpError, replyOf } from "./replies";
import type { Session } from "./session";
import { ftpsContext } from "./tls";

export interface Transfer extends DataUse {
  aborted: boolean;
  bytes: number;
  done: Promise<void>;
}

/*
 * Reading and writing a FileHandle by hand: a stream from handle.createReadStream/
 * createWriteStream keeps a reference on the handle until the stream closes, and with
 * autoClose off (tree.commit closes the handle itself) that never happens, so the handle's
 * close() would wait for ever.
 */
async function* readFrom(fh: FileHandle, start: number): AsyncGenerator<Buffer> {
  for (let position = start; ;) {
    const buf = Buffer.allocUnsafe(256 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

function writeTo(fh: FileHandle, start: number): Writable {
  let position = start;
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      fh.write(chunk, 0, chunk.length, position).then(
        () => ((position += chunk.length), cb()),
        (error: Error) => cb(error),
      );
    },
  });
}

/** Entries of a folder (or the one file) named by a LIST/NLST/MLSD argument, as text lines. */
export async function listLines(s: Session, verb: "LIST" | "NLST" | "MLSD", arg: string): Promise<string[]> {
  // LIST -la, LIST -a dir: options are accepted and ignored.
  const path = verb === "MLSD" ? arg : arg.replace(/^(\s*-[a-zA-Z]+)+\s*/, "");
  const { versions, rel, real } = s.resolve(path || ".", false);
  const tree = s.tree!;
  await tree.confine(real);
  const st = await stat(real);
  const format = (name: string, entry: Stats) =>
    verb === "LIST" ? listLine(name, entry, s.userName!) : verb === "MLSD" ? mlstFacts(name, entry, versions) : name;
  if (!st.isDirectory()) {
    if (verb === "MLSD") throw new FtpError(501, "MLSD needs a folder");
    return [format(path.split("/").pop() || path, st)];
  }
  const lines: string[] = [];
  for (const name of (await readdir(real)).sort()) {
    const entry = await lstat(`${real}/${name}`).catch(() => undefined);
    if (entry && (entry.isFile() || entry.isDirectory())) lines.push(format(name, entry));
  }
  if (!versions && rel === "") lines.push(format(VERSIONS_DIR, await stat(tree.version(""))));
  return lines;
}

/** Checks before a transfer command answers 150. */
function checkDataReady(s: Session): void {
  if (s.deps.settings.requireTls && !s.protPrivate) throw new FtpError(521, "Data connections must be protected: send PBSZ 0 and PROT P");
  if (s.secure && !s.protPrivate) throw new FtpError(521, "Data connections must be protected: send PROT P");
  if (!s.channel.ready) throw new FtpError(425, "Use PASV or EPSV first");
}

/** Runs one transfer: 150, the data connection, `body`, then 226 (or the error's reply). */
async function runTransfer(s: Session, what: string, body: (data: Duplex, transfer: Transfer) => Promise<void>): Promise<void> {
  let finish!: () => void;
  const transfer: Transfer = { aborted: false, bytes: 0, done: new Promise<void>((r) => (finish = r)) };
  s.transfer = transfer;
  try {
    s.reply(150, `Opening ${s.protPrivate ? "TLS " : ""}data connection for ${what}`);
    const tls = s.deps.tls;
    const data = await s.channel.open(transfer, s.protPrivate ? () => ftpsContext(tls!) : undefined);
    await body(data, transfer);
    s.reply(226, "Transfer complete");
  } catch (error) {
    transfer.data?.destroy();
    if (transfer.aborted) s.reply(426, "Connection closed; transfer aborted");
    else {
      const [code, text] = error instanceof FtpError || error instanceof PathError ? replyOf(error) : [426, "Data connection failed; transfer aborted"];
      s.reply(code, text);
    }
  } finally {
    s.transfer = undefined;
    s.channel.release();
    finish();
  }
}

/** ABOR while a transfer runs: stops it, lets it answer 426, then answers 226. */
export async function abortTransfer(s: Session): Promise<void> {
  const transfer = s.transfer;
  if (!transfer) return;
  transfer.aborted = true;
  transfer.data?.destroy();
  s.channel.cancelWait();
  await transfer.done;
  s.reply(226, "ABOR successful");
}

/** LIST, NLST, MLSD: the lines are read before 150, then sent on the data connection. */
export async function sendListing(s: Session, verb: "LIST" | "NLST" | "MLSD", arg: string): Promise<void> {
  checkDataReady(s);
  const lines = await listLines(s, verb, arg);
  await runTransfer(s, "the listing", async (data) => {
    await pipeline(async function* () {
      yield Buffer.from(lines.map((l) => `${l}\r\n`).join(""), "utf8");
    }, data);
  });
}

/** RETR from `offset` (REST). */
export async function retrieve(s: Session, arg: string, offset: number): Promise<void> {
  checkDataReady(s);
  const { real } = s.resolve(arg, false);
  await s.tree!.confine(real);
  const fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new FtpError(550, "Not a file");
    if (offset > st.size) throw new FtpError(554, "REST offset is past the end of the file");
    await runTransfer(s, `${arg} (${st.size - offset} bytes)`, async (data, transfer) => {
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          transfer.bytes += chunk.length;
          cb(null, chunk);
        },
      });
      await pipeline(readFrom(fh, offset), counter, data);
    });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** STOR (from `offset`, after REST) or APPE: a new upload that replaces the file only once complete. */
export async function store(s: Session, arg: string, append: boolean, offset: number): Promise<void> {
  checkDataReady(s);
  const tree = s.tree!;
  const { rel } = s.resolve(arg, true);
  if (rel === "") throw new FtpError(553, "Cannot write the root folder");
  const existing = await tree.confineWrite(rel);
  if (existing && !existing.isFile()) throw new FtpError(553, "Not a regular file");
  if (offset > 0 && offset > (existing?.size ?? 0)) throw new FtpError(554, "REST offset is past the end of the file");
  // A new temporary file per upload (tree.ts): it becomes the file only once complete.
  const upload: Upload = await tree.beginUpload(rel, append || offset > 0);
  if (offset > 0) await tree.truncate(upload, offset);
  let committed = false;
  await runTransfer(s, arg, async (data, transfer) => {
    let position = append ? upload.size : offset;
    // Each chunk is reserved against the quota before it is written (tree.ts: live + versions + uploads in flight).
    const quota = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        position += chunk.length;
        transfer.bytes += chunk.length;
        tree.reserve(upload, position).then(
          (ok) => (ok ? cb(null, chunk) : cb(new FtpError(552, `Quota of ${tree.quotaBytes} bytes exceeded; upload dropped`))),
          (error: Error) => cb(error),
        );
      },
    });
    await pipeline(data, quota, writeTo(upload.handle, append ? upload.size : offset));
    // The control connection went away during the upload: the client never saw it complete.
    if (s.closed || transfer.aborted) throw new FtpError(426, "Transfer aborted");
    await tree.commit(upload);
    committed = true;
    s.deps.onUpload?.(upload.size);
  });
  if (!committed) await tree.abort(upload);
}
