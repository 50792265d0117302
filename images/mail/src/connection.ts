/**
 * What every IMAP and POP3 connection shares to stay cheap under attack (bounds in
 * limits.ts): a per-address connection cap and a cap on connections that have not logged
 * in, a pre-login deadline and command budget that activity does not extend, an idle timer
 * that only complete commands reset, and backpressure: commands run one at a time, and the
 * socket is not read while commands are waiting or unsent replies exceed the high-water mark.
 */
import type { Server, Socket } from "node:net";
import type { MailLimits } from "./limits";

/** Counts open connections per client address; refuses the ones over `max`. */
export class AddressCounter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly max: number) {}

  tryAdd(address: string): boolean {
    const n = this.counts.get(address) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(address, n + 1);
    return true;
  }

  remove(address: string): void {
    const n = (this.counts.get(address) ?? 1) - 1;
    if (n <= 0) this.counts.delete(address);
    else this.counts.set(address, n);
  }
}

/**
 * Applies the per-address cap to a server's raw TCP connections (before any TLS handshake),
 * and the pre-login cap shared by its sessions (`preAuth`).
 */
export function capConnections(server: Server, limits: MailLimits): AddressCounter {
  const perAddress = new AddressCounter(limits.perAddress);
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "?";
    if (!perAddress.tryAdd(address)) return void socket.destroy();
    socket.once("close", () => perAddress.remove(address));
  });
  return new AddressCounter(limits.preAuthConnections);
}

/**
 * Ends a connection: says nothing more, reads (and drops) whatever the client still sends so
 * its FIN is seen even if reading was paused, and destroys the socket if the client does
 * not close within a few seconds.
 */
export function closeGracefully(socket: Socket): void {
  socket.end();
  socket.resume();
  setTimeout(() => socket.destroy(), 5_000).unref();
}

/** Splits a byte stream into CRLF-terminated lines of at most `maxLine` bytes (POP3). */
export class LineReader {
  private rest: Buffer = Buffer.alloc(0);
  constructor(private readonly maxLine: number) {}

  /** Complete lines (latin1, without CRLF); throws when a line exceeds `maxLine`. */
  push(chunk: Buffer): string[] {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const lines: string[] = [];
    let start = 0;
    let eol;
    while ((eol = data.indexOf("\r\n", start)) >= 0) {
      if (eol - start > this.maxLine) throw new Error("line too long");
      lines.push(data.subarray(start, eol).toString("latin1"));
      start = eol + 2;
    }
    if (data.length - start > this.maxLine) throw new Error("line too long");
    this.rest = Buffer.from(data.subarray(start));
    return lines;
  }
}

/**
 * Resolves once the socket's unsent data is at most `highWater` bytes (or it closed): a command
 * that writes many replies (a FETCH of a whole mailbox) waits here between them, so a client
 * that does not read holds at most about `highWater` plus one reply of the server's memory.
 */
export function whenWritable(socket: Socket, highWater: number): Promise<void> {
  if (socket.writableLength <= highWater || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}

export interface GuardHooks<T> {
  /** Runs one command; errors are the caller's to handle. */
  run(command: T): Promise<void>;
  /** Says goodbye (protocol-specific) and ends the connection. */
  bye(reason: "deadline" | "budget" | "idle"): void;
}

/**
 * One connection's command queue and limits. The protocol parses input into commands and
 * hands them to `accept`; the guard pauses the socket until they have all run and their
 * replies have drained below the high-water mark.
 */
export class ConnectionGuard<T> {
  private readonly queue: T[] = [];
  private running = false;
  private commands = 0;
  private authenticated = false;
  private ended = false;
  private readonly deadline: NodeJS.Timeout;
  private idle: NodeJS.Timeout | undefined;
  private holdsPreAuthSlot: boolean;

  constructor(
    private readonly socket: Socket,
    private readonly limits: MailLimits,
    private readonly idleMs: number,
    private readonly preAuth: AddressCounter,
    private readonly hooks: GuardHooks<T>,
  ) {
    this.holdsPreAuthSlot = preAuth.tryAdd("all");
    if (!this.holdsPreAuthSlot) {
      this.ended = true;
      socket.destroy();
    }
    this.deadline = setTimeout(() => this.end("deadline"), limits.preAuthMs);
    socket.once("close", () => {
      this.ended = true;
      this.queue.length = 0;
      clearTimeout(this.deadline);
      clearTimeout(this.idle);
      this.releasePreAuth();
    });
  }

  /** False when the connection was refused at once (too many connections not logged in). */
  get open(): boolean {
    return !this.ended;
  }

  /** The client logged in: the pre-login deadline and budget no longer apply; idle time does. */
  loggedIn(): void {
    this.authenticated = true;
    clearTimeout(this.deadline);
    this.releasePreAuth();
    this.touch();
  }

  /** Queues parsed commands; the socket stays paused until they ran and replies drained. */
  accept(commands: readonly T[]): void {
    if (this.ended || commands.length === 0) return;
    this.queue.push(...commands);
    this.socket.pause();
    void this.drain();
  }

  /** Ends the connection for one of the limits. */
  end(reason: "deadline" | "budget" | "idle"): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.hooks.bye(reason);
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.ended) {
        await this.writable();
        // The connection may have closed (and the queue emptied) while replies drained.
        const command = this.queue.shift();
        if (command === undefined || this.ended) break;
        if (!this.authenticated && ++this.commands > this.limits.preAuthCommands) return this.end("budget");
        await this.hooks.run(command);
        if (this.authenticated) this.touch();
      }
      await this.writable();
    } catch {
      // `run` handles its own errors; anything left is a bug: drop this connection, not the process.
      this.socket.destroy();
    } finally {
      this.running = false;
    }
    if (!this.ended && !this.socket.destroyed) this.socket.resume();
  }

  /** Resolves once unsent replies are below the high-water mark (or the socket closed). */
  private writable(): Promise<void> {
    return whenWritable(this.socket, this.limits.writeHighWater);
  }

  private touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.end("idle"), this.idleMs);
  }

  private releasePreAuth(): void {
    if (!this.holdsPreAuthSlot) return;
    this.holdsPreAuthSlot = false;
    this.preAuth.remove("all");
  }
}
