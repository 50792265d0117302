/**
 * Raw clients for the mail hostile tests: a line client over TLS or plain TCP that a test
 * can drive byte by byte, and an attacker's writer that pushes data until the server stops
 * reading (backpressure), closes the connection, or the byte budget is spent.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export const HOST = "127.0.0.1";
/** Attackers connect from this loopback address, real clients from 127.0.0.1 or .2. */
export const ATTACKER = "127.0.0.3";

export class LineClient {
  private text = "";
  private readonly waiters: { re: RegExp; resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  closed = false;
  readonly done: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.text += chunk;
      this.check();
    });
    socket.on("error", () => undefined);
    this.done = new Promise((resolve) =>
      socket.once("close", () => {
        this.closed = true;
        for (const w of this.waiters.splice(0)) w.reject(new Error(`closed before ${String(w.re)}; got ${JSON.stringify(this.text.slice(-300))}`));
        resolve();
      }),
    );
  }

  static open(port: number, opts: { tls?: boolean; localAddress?: string; read?: boolean } = {}): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const base = { host: HOST, port, localAddress: opts.localAddress };
      const socket = opts.tls === false ? tcpConnect(base) : tlsConnect({ ...base, rejectUnauthorized: false });
      socket.once(opts.tls === false ? "connect" : "secureConnect", () => {
        socket.off("error", reject);
        const client = new LineClient(socket);
        if (opts.read === false) socket.pause();
        resolve(client);
      });
      socket.once("error", reject);
    });
  }

  private check(): void {
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      const m = w.re.exec(this.text);
      if (m) {
        this.text = this.text.slice(m.index + m[0].length);
        this.waiters.splice(i--, 1);
        w.resolve(m[0]);
      }
    }
  }

  /** Resolves with the first match of `re` in what the server sent (consumed up to it). */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${String(re)} in ${timeoutMs} ms; got ${JSON.stringify(this.text.slice(-300))}`)), timeoutMs);
      this.waiters.push({
        re,
        resolve: (l) => (clearTimeout(timer), resolve(l)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.check();
      if (this.closed) this.done.then(() => undefined, reject);
      if (this.closed) reject(new Error(`already closed; got ${JSON.stringify(this.text.slice(-300))}`));
    });
  }

  write(data: string | Buffer): void {
    if (!this.closed) this.socket.write(data);
  }

  /** Everything received and not consumed yet. */
  get pending(): string {
    return this.text;
  }

  /** Resolves true when the server closes the connection within `ms`, false otherwise. */
  closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface FloodResult {
  readonly written: number;
  /** The server closed the connection. */
  readonly closed: boolean;
  /** The server stopped reading: writes stayed queued for `stallMs`. */
  readonly stalled: boolean;
}

/**
 * Writes `next()` chunks until `maxBytes` are written, the server closes, or a write does not
 * drain within `stallMs` (the server applies backpressure). Never reads the replies.
 */
export async function flood(socket: Socket, next: () => Buffer, maxBytes: number, stallMs = 3000): Promise<FloodResult> {
  let written = 0;
  let closed = socket.destroyed;
  socket.once("close", () => (closed = true));
  while (written < maxBytes && !closed) {
    const chunk = next();
    written += chunk.length;
    if (!socket.write(chunk)) {
      const drained = await new Promise<boolean>((resolve) => {
        const finish = (v: boolean) => {
          clearTimeout(timer);
          socket.off("drain", onDrain);
          socket.off("close", onDrain);
          resolve(v);
        };
        const onDrain = () => finish(true);
        const timer = setTimeout(() => finish(false), stallMs);
        socket.on("drain", onDrain);
        socket.on("close", onDrain);
      });
      if (!drained) return { written, closed, stalled: true };
    }
  }
  return { written, closed, stalled: false };
}

/** Opens `count` connections from `localAddress` and reports which the server closed within `ms`. */
export async function openMany(port: number, count: number, localAddress: string, ms = 1500): Promise<{ open: Socket[]; closed: number }> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const s = tcpConnect({ host: HOST, port, localAddress });
          s.on("error", () => undefined);
          s.resume(); // flowing: a close by the server is seen even though nothing reads
          s.once("connect", () => resolve(s));
          s.once("close", () => resolve(s));
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, ms));
  const open = sockets.filter((s) => !s.destroyed && !s.readableEnded);
  return { open, closed: count - open.length };
}
