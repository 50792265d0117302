/**
 * FTP with explicit TLS (RFC 959, RFC 2228/4217 AUTH TLS + PBSZ + PROT, RFC 2389 FEAT/OPTS,
 * RFC 3659 SIZE/MDTM/MLSD/MLST/REST, RFC 2428 EPSV) on top of UserTree, so an FTP upload is
 * as atomic, versioned, quota-checked and confined as an SFTP one.
 *
 * Hand-written on node:net/node:tls rather than ftp-srv: ftp-srv 4.6 waits for the data
 * channel's TLS handshake before it sends "150", while lftp starts that handshake only after
 * it has read the 150, so every FTPS listing with lftp hangs (found when ftp-srv was tried for
 * this role); it also pulls in old dependencies. Here a transfer command answers 150 first and only then waits for the
 * data connection and its handshake.
 *
 * Passive mode only. PORT/EPRT (active mode) are refused with 502: the server would have to
 * dial out from the private network to an address the client names, which the datacenter's
 * networks do not route and which makes the server a port scanner for anyone logged in.
 * Passive ports are a small fixed range, listened on all the time; PASV/EPSV reserves one for
 * the session, and only a connection from the control connection's client address is taken
 * (passive.ts: the range, the per-user and per-address caps, the address a PASV reply names).
 */
import { constants, type Stats } from "node:fs";
import { lstat, open, readdir, stat, type FileHandle } from "node:fs/promises";
import { createServer, isIPv4, type AddressInfo, type Socket } from "node:net";
import { Transform, Writable, type Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TLSSocket } from "node:tls";
import type { Logger } from "../../runtime/log";
import type { ReloadingTls } from "../../runtime/tls";
import type { Authenticator } from "../../mail/src/auth";
import type { FileSettings } from "../settings";
import { PassivePorts, plainIp, type PlannedAddresses } from "./passive";
import { classify, PathError, VERSIONS_DIR, virtualPath } from "./paths";
import type { Upload, UserTree } from "./tree";

/** Longest command line accepted (bytes, CRLF included); paths are capped at 4096 anyway. */
export const MAX_LINE = 4200;
/** How long a reserved passive port waits for the client's data connection. */
const DATA_CONNECT_MS = 20_000;

export interface FtpDeps {
  readonly trees: ReadonlyMap<string, UserTree>;
  readonly auth: Authenticator;
  /** The service certificate; undefined only when TLS is not required (tests of plain FTP). */
  readonly tls: ReloadingTls | undefined;
  readonly settings: FileSettings["ftp"];
  readonly passivePorts: { readonly from: number; readonly to: number };
  readonly host: string;
  /**
   * The replica's planned addresses and its networks' CIDRs (replica config): which address a
   * PASV reply names when the server sits behind NAT (see passive.ts). Without them, the
   * control socket's local address.
   */
  readonly planned?: PlannedAddresses;
  readonly log: Logger;
  readonly onUpload?: (bytes: number) => void;
}

export interface FtpServer {
  readonly port: number;
  readonly passivePorts: readonly number[];
  close(): Promise<void>;
}

/** A reply error: the transfer or command fails with this FTP code and text. */
class FtpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function replyOf(error: unknown): [number, string] {
  if (error instanceof FtpError) return [error.code, error.message];
  if (error instanceof PathError) return [error.message.startsWith("quota") ? 552 : 550, error.message];
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return [550, "No such file or folder"];
  if (code === "EACCES" || code === "EPERM" || code === "ELOOP") return [550, "Permission denied"];
  if (code === "EEXIST") return [550, "Already exists"];
  if (code === "ENOTEMPTY") return [550, "Folder not empty"];
  return [451, "Local error in processing"];
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `ls -l` style line, the format every FTP client parses. */
function listLine(name: string, s: Stats, owner: string): string {
  const d = s.mtime;
  const recent = Date.now() - d.getTime() < 180 * 86_400_000;
  const when = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${recent ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` : ` ${d.getUTCFullYear()}`}`;
  const mode = s.isDirectory() ? "drwx------" : "-rw-------";
  return `${mode} 1 ${owner} ${owner} ${String(s.size).padStart(12)} ${when} ${name}`;
}

const mdtm = (d: Date) =>
  `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;

/** RFC 3659 facts of one entry; `readOnly` for the versions view. */
function mlstFacts(name: string, s: Stats, readOnly: boolean): string {
  const modify = `modify=${mdtm(s.mtime)};`;
  if (s.isDirectory()) return `type=dir;${modify}perm=${readOnly ? "el" : "cdeflmp"}; ${name}`;
  return `type=file;size=${s.size};${modify}perm=${readOnly ? "r" : "adfrw"}; ${name}`;
}

const FEATURES = ["AUTH TLS", "PBSZ", "PROT", "UTF8", "SIZE", "MDTM", "REST STREAM", "MLST type*;size*;modify*;perm*;", "EPSV", "PASV", "TVFS"];
const COMMANDS =
  "ABOR APPE AUTH CDUP CWD DELE EPSV FEAT HELP LIST MDTM MKD MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PROT PWD QUIT REST RETR RMD RNFR RNTO SIZE STAT STOR STRU SYST TYPE USER XCUP XCWD XMKD XPWD XRMD";
/** Commands a client may send before logging in. */
const BEFORE_LOGIN = new Set(["AUTH", "PBSZ", "PROT", "FEAT", "OPTS", "SYST", "NOOP", "QUIT", "HELP", "USER", "PASS", "STAT"]);

interface Transfer {
  data?: Duplex;
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

/** One control connection. */
class Session {
  private control: Socket | TLSSocket;
  private readonly raw: Socket;
  readonly clientIp: string;
  private readonly localIp: string;
  private secure = false;
  private protPrivate = false;
  private pbsz = false;
  private userName: string | undefined;
  private tree: UserTree | undefined;
  private cwd = "/";
  private restOffset = 0;
  private renameFrom: string | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private discarding = false;
  private readonly queue: Buffer[] = [];
  private busy = false;
  private closed = false;
  private tornDown = false;
  /** AUTH TLS was read: the bytes after it belong to the TLS handshake. */
  private upgrading = false;
  private transfer: Transfer | undefined;
  /** The passive data connection, once it arrived (or a waiter for it). */
  private data: Socket | undefined;
  private dataWaiter: ((socket: Socket) => void) | undefined;
  private dataCancel: (() => void) | undefined;
  private dataTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    socket: Socket,
    private readonly deps: FtpDeps,
    private readonly passive: PassivePorts<Session>,
    private readonly onLogin: (user: string) => boolean,
    private readonly onClose: () => void,
  ) {
    this.raw = socket;
    this.control = socket;
    this.clientIp = plainIp(socket.remoteAddress);
    this.localIp = plainIp(socket.localAddress);
    socket.setNoDelay(true);
    this.attach(socket);
    socket.on("close", () => this.teardown());
    this.touch();
  }

  /** The logged-in user (passive port reservations are capped per user). */
  get user(): string | undefined {
    return this.tree ? this.userName : undefined;
  }

  greet(): void {
    this.reply(220, `Serverpark FTP ready${this.deps.settings.requireTls ? " (AUTH TLS required)" : ""}`);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.deps.log.debug({ err: error, ip: this.clientIp }, "ftp control connection error"));
  }

  reply(code: number, text: string | string[]): void {
    if (this.closed || this.control.destroyed) return;
    const lines = (Array.isArray(text) ? text : [text]).map((l) => l.replace(/[\r\n]+/g, " "));
    const out =
      lines.length === 1
        ? `${code} ${lines[0]}\r\n`
        : `${code}-${lines[0]}\r\n${lines
            .slice(1, -1)
            .map((l) => ` ${l}\r\n`)
            .join("")}${code} ${lines.at(-1)}\r\n`;
    this.control.write(out, "utf8");
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.transfer) return this.touch();
      this.reply(421, "Idle timeout, closing the connection");
      this.end();
    }, this.deps.settings.idleTimeoutSeconds * 1000);
    this.idleTimer.unref();
  }

  end(): void {
    this.closed = true;
    this.control.end();
    setTimeout(() => this.control.destroy(), 2000).unref();
  }

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    clearTimeout(this.dataTimer);
    this.passive.release(this);
    this.data?.destroy();
    if (this.transfer) {
      this.transfer.aborted = true;
      this.transfer.data?.destroy();
      this.dataCancel?.();
    }
    this.onClose();
  }

  /** Splits the byte stream into lines; an over-long line gets one 500 and is skipped. */
  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    // After AUTH TLS the rest of the stream belongs to the TLS layer (see auth()), not to us.
    while (!this.upgrading) {
      const eol = this.pending.indexOf(0x0a);
      if (eol < 0) {
        if (this.pending.length > MAX_LINE) {
          this.pending = Buffer.alloc(0);
          if (!this.discarding) this.reply(500, `Line too long (at most ${MAX_LINE} bytes)`);
          this.discarding = true;
        }
        return;
      }
      const line = this.pending.subarray(0, eol);
      this.pending = this.pending.subarray(eol + 1);
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      if (line.length > MAX_LINE) {
        this.reply(500, `Line too long (at most ${MAX_LINE} bytes)`);
        continue;
      }
      this.enqueue(line);
    }
  }

  private enqueue(raw: Buffer): void {
    // Telnet IP/DM (and other IAC pairs) that some clients put before ABOR.
    let start = 0;
    while (start + 1 < raw.length && raw[start] === 0xff && raw[start + 1]! >= 0xf0) start += 2;
    let end = raw.length;
    if (end > start && raw[end - 1] === 0x0d) end--;
    const line = raw.subarray(start, end);
    const verb = line.subarray(0, 5).toString("latin1").toUpperCase();
    if (this.transfer && (verb === "ABOR" || verb === "ABOR ")) {
      void this.abort();
      return;
    }
    if (verb.startsWith("AUTH")) this.upgrading = true;
    this.queue.push(line);
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const line = this.queue.shift()!;
        this.touch();
        await this.command(line.toString("utf8")).catch((error: unknown) => {
          const [code, text] = replyOf(error);
          if (code === 451) this.deps.log.warn({ err: error, ip: this.clientIp }, "ftp command failed");
          this.reply(code, text);
        });
        this.touch();
      }
    } finally {
      this.busy = false;
    }
  }

  private async command(line: string): Promise<void> {
    const space = line.indexOf(" ");
    const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const arg = space < 0 ? "" : line.slice(space + 1);
    if (!/^[A-Z]{3,4}$/.test(verb)) throw new FtpError(500, "Syntax error, command unrecognized");
    const rest = this.restOffset;
    if (verb !== "REST") this.restOffset = 0;
    if (verb !== "RNTO") {
      const from = this.renameFrom;
      this.renameFrom = undefined;
      if (verb === "RNFR") this.renameFrom = from;
    }
    if (!this.tree && !BEFORE_LOGIN.has(verb)) throw new FtpError(530, "Please log in with USER and PASS");
    switch (verb) {
      case "AUTH":
        return this.auth(arg);
      case "PBSZ":
        if (!this.secure) throw new FtpError(503, "PBSZ needs AUTH TLS first");
        this.pbsz = true;
        return this.reply(200, "PBSZ=0");
      case "PROT": {
        const level = arg.trim().toUpperCase();
        if (!this.secure) throw new FtpError(503, "PROT needs AUTH TLS first");
        if (!this.pbsz) throw new FtpError(503, "PROT needs PBSZ first");
        if (level === "P") {
          this.protPrivate = true;
          return this.reply(200, "Protection level set to Private");
        }
        // Once the control connection is encrypted, clear data would leak the files it protects.
        if (level === "C") throw new FtpError(534, "Data connections must be protected on a TLS session: use PROT P");
        if (level === "S" || level === "E") throw new FtpError(536, "Only PROT P is supported");
        throw new FtpError(504, "Unknown protection level");
      }
      case "CCC":
        throw new FtpError(534, "The control connection stays encrypted");
      case "USER":
        return this.userCmd(arg);
      case "PASS":
        return this.pass(arg);
      case "QUIT":
        this.reply(221, "Goodbye");
        return this.end();
      case "NOOP":
        return this.reply(200, "OK");
      case "SYST":
        return this.reply(215, "UNIX Type: L8");
      case "FEAT":
        return this.reply(211, ["Features:", ...FEATURES, "End"]);
      case "OPTS": {
        const [name = "", value = ""] = arg.trim().toUpperCase().split(/\s+/);
        if (name === "UTF8" && (value === "ON" || value === "")) return this.reply(200, "UTF8 is always on");
        if (name === "MLST") return this.reply(200, "MLST OPTS type;size;modify;perm;");
        throw new FtpError(501, "Option not understood");
      }
      case "HELP":
        return this.reply(214, ["Commands understood:", ...COMMANDS.match(/(\S+ ?){1,12}/g)!.map((l) => l.trim()), "Active mode (PORT, EPRT) is not offered"]);
      case "STAT":
        return this.statCmd(arg);
      case "TYPE": {
        const t = arg.trim().toUpperCase();
        if (["A", "A N", "I", "L 8"].includes(t)) return this.reply(200, `Type set to ${t}`);
        throw new FtpError(504, "Type not supported");
      }
      case "MODE":
        if (arg.trim().toUpperCase() === "S") return this.reply(200, "Mode set to S");
        throw new FtpError(504, "Only stream mode is supported");
      case "STRU":
        if (arg.trim().toUpperCase() === "F") return this.reply(200, "Structure set to F");
        throw new FtpError(504, "Only file structure is supported");
      case "ALLO":
        return this.reply(202, "No storage allocation necessary");
      case "PORT":
      case "EPRT":
      case "LPRT":
        // Active mode would dial out from the private network to an address the client names.
        throw new FtpError(502, "Active mode is not offered: use PASV or EPSV");
      case "PASV":
        return this.pasv(false, arg);
      case "EPSV":
        return this.pasv(true, arg);
      case "PWD":
      case "XPWD":
        return this.reply(257, `"${this.cwd.replace(/"/g, '""')}" is the current folder`);
      case "CWD":
      case "XCWD":
        return this.cwdCmd(arg);
      case "CDUP":
      case "XCUP":
        return this.cwdCmd("..");
      case "REST": {
        if (!/^\d{1,15}$/.test(arg.trim())) throw new FtpError(501, "REST needs a byte offset");
        this.restOffset = Number(arg.trim());
        return this.reply(350, `Restarting at ${this.restOffset}`);
      }
      case "SIZE":
      case "MDTM": {
        const { real } = this.resolve(arg, false);
        await this.tree!.confine(real);
        const s = await stat(real);
        if (!s.isFile()) throw new FtpError(550, "Not a file");
        return this.reply(213, verb === "SIZE" ? String(s.size) : mdtm(s.mtime));
      }
      case "MLST": {
        const { real, vpath, versions } = this.resolve(arg || ".", false);
        await this.tree!.confine(real);
        const s = await stat(real);
        return this.reply(250, ["Listing", mlstFacts(vpath, s, versions), "End"]);
      }
      case "LIST":
      case "NLST":
      case "MLSD":
        return this.listing(verb, arg);
      case "RETR":
        return this.retr(arg, rest);
      case "STOR":
      case "APPE":
        return this.store(arg, verb === "APPE", rest);
      case "DELE": {
        const { rel } = this.resolve(arg, true);
        await this.tree!.remove(rel);
        return this.reply(250, "Deleted (the content is kept as a version)");
      }
      case "RNFR": {
        const { rel, real } = this.resolve(arg, true);
        if (rel === "") throw new FtpError(550, "Cannot rename the root folder");
        await lstat(real);
        this.renameFrom = rel;
        return this.reply(350, "Ready for RNTO");
      }
      case "RNTO": {
        const from = this.renameFrom;
        this.renameFrom = undefined;
        if (from === undefined) throw new FtpError(503, "RNFR first");
        const { rel } = this.resolve(arg, true);
        if (rel === "") throw new FtpError(553, "Bad target name");
        await this.tree!.renamePath(from, rel);
        return this.reply(250, "Renamed");
      }
      case "MKD":
      case "XMKD": {
        const { rel, vpath } = this.resolve(arg, true);
        if (rel === "") throw new FtpError(550, "The root folder exists");
        await this.tree!.makeDir(rel);
        return this.reply(257, `"${vpath.replace(/"/g, '""')}" created`);
      }
      case "RMD":
      case "XRMD": {
        const { rel } = this.resolve(arg, true);
        await this.tree!.removeDir(rel);
        return this.reply(250, "Folder removed");
      }
      case "ABOR":
        this.dropData();
        return this.reply(225, "No transfer to abort");
      default:
        throw new FtpError(502, "Command not implemented");
    }
  }

  private auth(arg: string): void {
    this.upgrading = false;
    const mech = arg.trim().toUpperCase();
    if (mech !== "TLS" && mech !== "TLS-C" && mech !== "SSL") {
      this.reply(504, "Only AUTH TLS is supported");
      return this.resumeReading();
    }
    if (this.secure) {
      this.reply(503, "Already using TLS");
      return this.resumeReading();
    }
    if (!this.deps.tls) {
      this.reply(431, "TLS is not configured on this server");
      return this.resumeReading();
    }
    this.reply(234, "AUTH TLS successful, start the handshake");
    // Anything the client sent after AUTH TLS in the clear is ignored (it must wait for 234).
    this.pending = Buffer.alloc(0);
    this.queue.length = 0;
    this.raw.removeAllListeners("data");
    const secure = new TLSSocket(this.raw, { isServer: true, secureContext: this.deps.tls.current() });
    this.control = secure;
    this.attach(secure);
    secure.once("secure", () => {
      this.secure = true;
      // RFC 4217: AUTH resets the login state.
      this.tree = undefined;
      this.userName = undefined;
    });
    secure.on("error", () => this.raw.destroy());
  }

  private resumeReading(): void {
    // Lines that arrived behind the refused AUTH are still in `pending`.
    if (this.pending.length > 0) this.onData(Buffer.alloc(0));
  }

  private userCmd(arg: string): void {
    if (this.tree) throw new FtpError(503, "Already logged in");
    if (this.deps.settings.requireTls && !this.secure) throw new FtpError(530, "TLS required: send AUTH TLS before USER");
    const name = arg.trim();
    if (!name) throw new FtpError(501, "USER needs a name");
    this.userName = name;
    this.reply(331, "Password required");
  }

  private async pass(arg: string): Promise<void> {
    if (this.tree) throw new FtpError(503, "Already logged in");
    if (this.userName === undefined) throw new FtpError(503, "Send USER first");
    const name = this.userName;
    this.userName = undefined;
    const result = await this.deps.auth.login(this.clientIp, name, arg);
    if (!result.ok) {
      throw new FtpError(530, result.reason === "blocked" ? "Too many failed logins from your address; try again later" : "Login incorrect");
    }
    const tree = this.deps.trees.get(result.user);
    if (!tree) throw new FtpError(530, "Login incorrect");
    if (!this.onLogin(result.user)) {
      this.reply(421, `Too many connections for ${result.user}`);
      return this.end();
    }
    this.tree = tree;
    this.userName = result.user;
    this.reply(230, "Logged in");
  }

  private resolve(path: string, write: boolean): { vpath: string; versions: boolean; rel: string; real: string } {
    const vpath = virtualPath(path, this.cwd);
    const { versions, rel } = classify(vpath);
    if (versions && write) throw new FtpError(550, "The .versions view is read-only");
    return { vpath, versions, rel, real: versions ? this.tree!.version(rel) : this.tree!.live(rel) };
  }

  private async cwdCmd(arg: string): Promise<void> {
    const { vpath, real } = this.resolve(arg || "/", false);
    await this.tree!.confine(real);
    if (!(await stat(real)).isDirectory()) throw new FtpError(550, "Not a folder");
    this.cwd = vpath;
    this.reply(250, `Folder changed to ${vpath}`);
  }

  private async statCmd(arg: string): Promise<void> {
    if (!arg.trim()) {
      return this.reply(211, [
        "Serverpark FTP status",
        `Connected from ${this.clientIp}`,
        this.tree ? `Logged in as ${this.userName}` : "Not logged in",
        `TLS ${this.secure ? "on" : "off"}, data ${this.protPrivate ? "private" : "clear"}`,
        this.transfer ? `Transferring, ${this.transfer.bytes} bytes so far` : "No transfer",
        "End of status",
      ]);
    }
    if (!this.tree) throw new FtpError(530, "Please log in with USER and PASS");
    const lines = await this.listLines("LIST", arg);
    this.reply(213, ["Status follows:", ...lines, "End of status"]);
  }

  /** Entries of a folder (or the one file) named by a LIST/NLST/MLSD argument, as text lines. */
  private async listLines(verb: "LIST" | "NLST" | "MLSD", arg: string): Promise<string[]> {
    // LIST -la, LIST -a dir: options are accepted and ignored.
    const path = verb === "MLSD" ? arg : arg.replace(/^(\s*-[a-zA-Z]+)+\s*/, "");
    const { versions, rel, real } = this.resolve(path || ".", false);
    await this.tree!.confine(real);
    const s = await stat(real);
    const tree = this.tree!;
    const format = (name: string, st: Stats) => (verb === "LIST" ? listLine(name, st, this.userName!) : verb === "MLSD" ? mlstFacts(name, st, versions) : name);
    if (!s.isDirectory()) {
      if (verb === "MLSD") throw new FtpError(501, "MLSD needs a folder");
      return [format(path.split("/").pop() || path, s)];
    }
    const lines: string[] = [];
    for (const name of (await readdir(real)).sort()) {
      const st = await lstat(`${real}/${name}`).catch(() => undefined);
      if (st && (st.isFile() || st.isDirectory())) lines.push(format(name, st));
    }
    if (!versions && rel === "") lines.push(format(VERSIONS_DIR, await stat(tree.version(""))));
    return lines;
  }

  private pasv(extended: boolean, arg: string): void {
    if (extended && arg.trim().toUpperCase() === "ALL") return this.reply(200, "EPSV ALL accepted");
    if (extended && arg.trim() && arg.trim() !== "1" && arg.trim() !== "2") throw new FtpError(501, "Unknown network protocol");
    if (extended && arg.trim() === "2" && isIPv4(this.localIp)) throw new FtpError(522, "Network protocol not supported, use (1)");
    // The address the client reached us on (behind NAT: our planned address on its network),
    // never the wildcard the server listens on.
    const address = extended ? this.localIp : this.passive.addressFor(this.localIp, this.clientIp);
    if (!extended && !isIPv4(address)) throw new FtpError(425, "PASV needs IPv4; use EPSV");
    this.dropData();
    const reservation = this.passive.reserve(this);
    // 425 (RFC 959 "Can't open data connection"): a transient refusal the client may retry;
    // 421 would close the control connection, and RFC 959 gives PASV no better code.
    if (!reservation.ok) {
      throw new FtpError(
        425,
        reservation.reason === "full"
          ? "No passive port free; try again shortly"
          : `Too many open data connections ${reservation.reason === "user" ? `for ${this.userName}` : "from your address"} (at most ${reservation.limit}); try again shortly`,
      );
    }
    const port = reservation.port;
    this.dataTimer = setTimeout(() => this.passive.release(this), DATA_CONNECT_MS);
    this.dataTimer.unref();
    if (extended) return this.reply(229, `Entering Extended Passive Mode (|||${port}|)`);
    this.reply(227, `Entering Passive Mode (${address.split(".").join(",")},${port >> 8},${port & 255})`);
  }

  /** Called by the passive listener with the client's data connection. */
  dataArrived(socket: Socket): void {
    clearTimeout(this.dataTimer);
    if (this.closed) return void socket.destroy();
    socket.on("error", () => undefined);
    if (this.dataWaiter) {
      const waiter = this.dataWaiter;
      this.dataWaiter = undefined;
      waiter(socket);
    } else {
      this.data?.destroy();
      this.data = socket;
    }
  }

  private dropData(): void {
    this.passive.release(this);
    clearTimeout(this.dataTimer);
    this.data?.destroy();
    this.data = undefined;
    this.dataWaiter = undefined;
  }

  /** Checks before a transfer command answers 150. */
  private checkDataReady(): void {
    if (this.deps.settings.requireTls && !this.protPrivate) throw new FtpError(521, "Data connections must be protected: send PBSZ 0 and PROT P");
    if (this.secure && !this.protPrivate) throw new FtpError(521, "Data connections must be protected: send PROT P");
    if (!this.data && !this.passive.holds(this)) throw new FtpError(425, "Use PASV or EPSV first");
  }

  /**
   * The data connection for a transfer, after "150" has been sent: waits for the client to
   * connect (if it has not yet) and then for its TLS handshake under PROT P.
   */
  private async openData(transfer: Transfer): Promise<Duplex> {
    let socket = this.data;
    this.data = undefined;
    if (!socket) {
      socket = await new Promise<Socket>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.dataWaiter = undefined;
          this.passive.release(this);
          reject(new FtpError(425, "The data connection did not arrive"));
        }, DATA_CONNECT_MS);
        this.dataWaiter = (s) => (clearTimeout(timer), resolve(s));
        // ABOR (or the control connection closing) while still waiting for the client.
        this.dataCancel = () => {
          clearTimeout(timer);
          this.dataWaiter = undefined;
          reject(new FtpError(426, "Transfer aborted"));
        };
      });
    }
    this.dataCancel = undefined;
    transfer.data = socket;
    if (transfer.aborted) throw new FtpError(426, "Transfer aborted");
    if (!this.protPrivate) return socket;
    const secure = new TLSSocket(socket, { isServer: true, secureContext: this.deps.tls!.current() });
    transfer.data = secure;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new FtpError(425, "TLS handshake on the data connection timed out")), DATA_CONNECT_MS);
      secure.once("secure", () => (clearTimeout(timer), resolve()));
      secure.once("error", (error) => (clearTimeout(timer), reject(new FtpError(425, `TLS handshake on the data connection failed: ${error.message}`))));
      secure.once("close", () => (clearTimeout(timer), reject(new FtpError(426, "Data connection closed"))));
    });
    secure.on("error", () => undefined);
    return secure;
  }

  /** Runs one transfer: 150, the data connection, `body`, then 226 (or the error's reply). */
  private async runTransfer(what: string, body: (data: Duplex, transfer: Transfer) => Promise<void>): Promise<void> {
    let finish!: () => void;
    const transfer: Transfer = { aborted: false, bytes: 0, done: new Promise<void>((r) => (finish = r)) };
    this.transfer = transfer;
    try {
      this.reply(150, `Opening ${this.protPrivate ? "TLS " : ""}data connection for ${what}`);
      const data = await this.openData(transfer);
      await body(data, transfer);
      this.reply(226, "Transfer complete");
    } catch (error) {
      transfer.data?.destroy();
      if (transfer.aborted) this.reply(426, "Connection closed; transfer aborted");
      else {
        const [code, text] = error instanceof FtpError || error instanceof PathError ? replyOf(error) : [426, "Data connection failed; transfer aborted"];
        this.reply(code, text);
      }
    } finally {
      this.transfer = undefined;
      this.passive.release(this);
      finish();
    }
  }

  private async abort(): Promise<void> {
    const transfer = this.transfer;
    if (!transfer) return;
    transfer.aborted = true;
    transfer.data?.destroy();
    this.dataCancel?.();
    await transfer.done;
    this.reply(226, "ABOR successful");
  }

  private async listing(verb: "LIST" | "NLST" | "MLSD", arg: string): Promise<void> {
    this.checkDataReady();
    const lines = await this.listLines(verb, arg);
    await this.runTransfer("the listing", async (data) => {
      await pipeline(async function* () {
        yield Buffer.from(lines.map((l) => `${l}\r\n`).join(""), "utf8");
      }, data);
    });
  }

  private async retr(arg: string, offset: number): Promise<void> {
    this.checkDataReady();
    const { real } = this.resolve(arg, false);
    await this.tree!.confine(real);
    const fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const s = await fh.stat();
      if (!s.isFile()) throw new FtpError(550, "Not a file");
      if (offset > s.size) throw new FtpError(554, "REST offset is past the end of the file");
      await this.runTransfer(`${arg} (${s.size - offset} bytes)`, async (data, transfer) => {
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

  private async store(arg: string, append: boolean, offset: number): Promise<void> {
    this.checkDataReady();
    const tree = this.tree!;
    const { rel, real } = this.resolve(arg, true);
    if (rel === "") throw new FtpError(553, "Cannot write the root folder");
    const existing = await lstat(real).catch(() => undefined);
    if (existing && !existing.isFile()) throw new FtpError(553, "Not a regular file");
    if (offset > 0 && offset > (existing?.size ?? 0)) throw new FtpError(554, "REST offset is past the end of the file");
    // A new temporary file per upload (tree.ts): it becomes the file only once complete.
    const upload: Upload = await tree.beginUpload(rel, append || offset > 0);
    if (offset > 0) {
      await upload.handle.truncate(offset);
      upload.size = offset;
    }
    let committed = false;
    await this.runTransfer(arg, async (data, transfer) => {
      let position = append ? upload.size : offset;
      const quota = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          position += chunk.length;
          transfer.bytes += chunk.length;
          if (!tree.fits(upload, position)) return cb(new FtpError(552, `Quota of ${tree.quotaBytes} bytes exceeded; upload dropped`));
          upload.size = Math.max(upload.size, position);
          cb(null, chunk);
        },
      });
      await pipeline(data, quota, writeTo(upload.handle, append ? upload.size : offset));
      // The control connection went away during the upload: the client never saw it complete.
      if (this.closed || transfer.aborted) throw new FtpError(426, "Transfer aborted");
      await tree.commit(upload);
      committed = true;
      this.deps.onUpload?.(upload.size);
    });
    if (!committed) await tree.abort(upload);
  }
}

/** Starts the FTP server and its passive listeners. */
export async function startFtpServer(port: number, deps: FtpDeps): Promise<FtpServer> {
  const { from, to } = deps.passivePorts;
  if (!(from >= 1 && to >= from && to <= 65535 && to - from < 1000)) throw new Error(`bad FTP passive port range ${from}-${to}`);
  const passive = new PassivePorts<Session>(
    Array.from({ length: to - from + 1 }, (_, i) => from + i),
    deps.log,
    deps.planned,
  );
  await passive.listen(deps.host);
  const perIp = new Map<string, number>();
  const perUser = new Map<string, number>();
  const sessions = new Set<Session>();
  const bump = (map: Map<string, number>, key: string, by: number) => {
    const n = (map.get(key) ?? 0) + by;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  };

  const server = createServer((socket) => {
    const ip = plainIp(socket.remoteAddress);
    if ((perIp.get(ip) ?? 0) >= deps.settings.maxConnectionsPerIp) {
      socket.on("error", () => undefined);
      socket.end("421 Too many connections from your address\r\n");
      return;
    }
    bump(perIp, ip, 1);
    let user: string | undefined;
    const session = new Session(
      socket,
      deps,
      passive,
      (name) => {
        if ((perUser.get(name) ?? 0) >= deps.settings.maxConnectionsPerUser) return false;
        user = name;
        bump(perUser, name, 1);
        return true;
      },
      () => {
        sessions.delete(session);
        bump(perIp, ip, -1);
        if (user) bump(perUser, user, -1);
      },
    );
    sessions.add(session);
    session.greet();
  });
  server.on("error", (error) => deps.log.warn({ err: error }, "ftp server error"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, deps.host, () => (server.off("error", reject), resolve()));
  });
  return {
    port: (server.address() as AddressInfo).port,
    passivePorts: passive.ports,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) {
          s.reply(421, "Server shutting down");
          s.end();
        }
      });
      await passive.close();
    },
  };
}
