/**
 * One FTP control connection: reading command lines (with the line-length limit), running them
 * one at a time, the idle timer, the upgrade to TLS after AUTH TLS, and the protocol state the
 * command handlers (commands.ts) and transfers (transfers.ts) read and set.
 *
 * Bounds (limits.ts): at most `queuedCommands` lines wait behind the running command and at
 * most `unsentBytes` of replies wait for the client; beyond either, the socket is not read
 * (and the next command waits for the replies to drain), so a client that sends commands
 * without reading the answers holds a few KiB, not gigabytes. Before login a connection has
 * `preAuthSeconds` and `preAuthCommands` in all; after login only real work (transfers, file
 * and folder operations) resets the idle timer, never NOOP, HELP, FEAT and the like.
 */
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { plainIp, type PassivePorts } from "../passive";
import { classify, virtualPath } from "../paths";
import type { UserTree } from "../tree";
import { dispatch, resetsIdle } from "./commands";
import { DataChannel } from "./data-channel";
import { formatReply, FtpError, replyOf } from "./replies";
import type { FtpDeps } from "./server";
import { ftpsContext } from "./tls";
import { abortTransfer, type Transfer } from "./transfers";

/** Longest command line accepted (bytes, CRLF included); paths are capped at 4096 anyway. */
export const MAX_LINE = 4200;

/** A client path resolved against the session's folder and user tree. */
export interface Resolved {
  /** The path as the client sees it (absolute, normalised). */
  readonly vpath: string;
  /** Under the read-only `/.versions` view. */
  readonly versions: boolean;
  /** Relative to the user's root (live files, or the versions folder). */
  readonly rel: string;
  /** The path on disk. */
  readonly real: string;
}

export class Session {
  private control: Socket | TLSSocket;
  private readonly raw: Socket;
  readonly clientIp: string;
  readonly channel: DataChannel<Session>;
  private pending: Buffer = Buffer.alloc(0);
  private discarding = false;
  private readonly queue: Buffer[] = [];
  private busy = false;
  private closing = false;
  private tornDown = false;
  /** AUTH TLS was read: the bytes after it belong to the TLS handshake. */
  private upgrading = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly loginTimer: NodeJS.Timeout;
  /** Commands run before login (limits.preAuthCommands). */
  private commandsBeforeLogin = 0;
  /** Reading is paused (queue full, or replies unsent). */
  private readPaused = false;

  // The protocol state, read and set by the command handlers and transfers.
  /** The control connection is encrypted (AUTH TLS done). */
  secure = false;
  /** PROT P: data connections are encrypted. */
  protPrivate = false;
  pbsz = false;
  /** The name from USER, then the logged-in user. */
  userName: string | undefined;
  /** The logged-in user's files; undefined before login. */
  tree: UserTree | undefined;
  cwd = "/";
  /** REST: the offset the next RETR/STOR starts at. */
  restOffset = 0;
  /** RNFR: the path the next RNTO renames. */
  renameFrom: string | undefined;
  /** The transfer in progress, if any. */
  transfer: Transfer | undefined;

  constructor(
    socket: Socket,
    readonly deps: FtpDeps,
    passive: PassivePorts<Session>,
    private readonly onLogin: (user: string) => boolean,
    private readonly onClose: () => void,
  ) {
    this.raw = socket;
    this.control = socket;
    this.clientIp = plainIp(socket.remoteAddress);
    this.channel = new DataChannel<Session>(this, passive, plainIp(socket.localAddress), this.clientIp, () => this.closing);
    socket.setNoDelay(true);
    this.attach(socket);
    socket.on("close", () => this.teardown());
    this.touch();
    // The time to log in: not extended by any command.
    this.loginTimer = setTimeout(() => {
      if (this.tree) return;
      this.reply(421, "Login timeout, closing the connection");
      this.end();
    }, deps.limits.preAuthSeconds * 1000);
    this.loginTimer.unref();
  }

  /** The logged-in user (passive port reservations are capped per user). */
  get user(): string | undefined {
    return this.tree ? this.userName : undefined;
  }

  /** The control connection is closing (QUIT, idle, shutdown, refused login) or closed. */
  get closed(): boolean {
    return this.closing;
  }

  greet(): void {
    this.reply(220, `Serverpark FTP ready${this.deps.settings.requireTls ? " (AUTH TLS required)" : ""}`);
  }

  reply(code: number, text: string | string[]): void {
    if (this.closing || this.control.destroyed) return;
    this.control.write(formatReply(code, text), "utf8");
    this.flow();
  }

  end(): void {
    this.closing = true;
    // Read (and drop) what still comes, so the client's FIN is seen and the connection closes
    // now, not when the timer below destroys it (the per-address and per-user counts wait for that).
    this.readPaused = false;
    this.control.resume();
    this.control.end();
    setTimeout(() => this.control.destroy(), 2000).unref();
  }

  /** Counts a login against the per-user cap; false when the user has too many sessions. */
  admit(user: string): boolean {
    return this.onLogin(user);
  }

  /** Called by the passive listener with the client's data connection. */
  dataArrived(socket: Socket): void {
    this.channel.arrived(socket);
  }

  /** A client path against the current folder; `write` refuses the read-only versions view. */
  resolve(path: string, write: boolean): Resolved {
    const vpath = virtualPath(path, this.cwd);
    const { versions, rel } = classify(vpath);
    if (versions && write) throw new FtpError(550, "The .versions view is read-only");
    return { vpath, versions, rel, real: versions ? this.tree!.version(rel) : this.tree!.live(rel) };
  }

  /** AUTH: answers 234 and hands the connection to TLS, or refuses and reads on in the clear. */
  startTls(arg: string): void {
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
    this.raw.removeAllListeners("drain");
    if (this.readPaused) {
      this.readPaused = false;
      this.raw.resume();
    }
    const secure = new TLSSocket(this.raw, { isServer: true, secureContext: ftpsContext(this.deps.tls) });
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
    this.parse();
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.flow());
    socket.on("error", (error) => this.deps.log.debug({ err: error, ip: this.clientIp }, "ftp control connection error"));
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

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.closing = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.loginTimer);
    this.idleTimer = undefined;
    this.channel.close();
    if (this.transfer) {
      this.transfer.aborted = true;
      this.transfer.data?.destroy();
      this.channel.cancelWait();
    }
    this.onClose();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.parse();
  }

  /**
   * Moves complete lines from the byte stream to the queue while it has room (an over-long
   * line gets one 500 and is skipped), then pauses or resumes reading.
   */
  private parse(): void {
    // After AUTH TLS the rest of the stream belongs to the TLS layer (see startTls()), not to us.
    while (!this.upgrading && this.queue.length < this.deps.limits.queuedCommands) {
      const eol = this.pending.indexOf(0x0a);
      if (eol < 0) {
        if (this.pending.length > MAX_LINE) {
          this.pending = Buffer.alloc(0);
          if (!this.discarding) this.reply(500, `Line too long (at most ${MAX_LINE} bytes)`);
          this.discarding = true;
        }
        break;
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
    this.flow();
  }

  /** Backpressure: no reading while the queue is full, a line is unparsed, or replies are unsent. */
  private flow(): void {
    if (this.closing) return;
    const { queuedCommands, unsentBytes } = this.deps.limits;
    const over = this.queue.length >= queuedCommands || this.pending.length > MAX_LINE || this.control.writableLength > unsentBytes;
    if (over && !this.readPaused) {
      this.readPaused = true;
      this.control.pause();
    } else if (!over && this.readPaused) {
      this.readPaused = false;
      this.control.resume();
    }
  }

  /** Resolves once the replies written so far are down to the bound (or the connection closed). */
  private async writable(): Promise<void> {
    const control = this.control;
    if (control.writableLength <= this.deps.limits.unsentBytes || control.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = () => (control.off("drain", done), control.off("close", done), resolve());
      control.on("drain", done);
      control.on("close", done);
    });
  }

  private enqueue(raw: Buffer): void {
    // Telnet IP/DM (and other IAC pairs) that some clients put before ABOR.
    let start = 0;
    while (start + 1 < raw.length && raw[start] === 0xff && raw[start + 1]! >= 0xf0) start += 2;
    let end = raw.length;
    if (end > start && raw[end - 1] === 0x0d) end--;
    const line = raw.subarray(start, end);
    const verb = line.subarray(0, 5).toString("latin1").toUpperCase();
    // ABOR during a transfer is acted on at once, not queued behind the transfer.
    if (this.transfer && (verb === "ABOR" || verb === "ABOR ")) {
      void abortTransfer(this);
      return;
    }
    if (verb.startsWith("AUTH")) this.upgrading = true;
    this.queue.push(line);
    void this.drain();
  }

  /** Runs the queued commands one at a time; a command's error becomes its reply. */
  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closing) {
        await this.writable();
        const line = this.queue.shift()!.toString("utf8");
        this.parse();
        if (!this.tree && ++this.commandsBeforeLogin > this.deps.limits.preAuthCommands) {
          this.reply(421, "Too many commands before login, closing the connection");
          this.end();
          break;
        }
        const work = resetsIdle(line);
        if (work) this.touch();
        await dispatch(this, line).catch((error: unknown) => {
          const [code, text] = replyOf(error);
          if (code === 451) this.deps.log.warn({ err: error, ip: this.clientIp }, "ftp command failed");
          this.reply(code, text);
        });
        if (work) this.touch();
      }
    } finally {
      this.busy = false;
    }
  }
}
