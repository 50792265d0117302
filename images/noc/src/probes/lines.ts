/**
 * Line-oriented text protocols (SMTP, IMAP, POP3, FTP): connect over TCP or TLS, read the
 * greeting, optionally talk a little (EHLO, AUTH TLS), and hang up politely. Hand-written on
 * net/tls because a greeting check needs none of a full client library's machinery.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { verifiedTls, type Probe, type ProbeContext, type ProbeTarget } from "./types";

export class LineSocket {
  private buffer = "";
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  private readonly onData = (chunk: Buffer) => {
    this.buffer += chunk.toString("utf8");
    let i: number;
    while ((i = this.buffer.indexOf("\n")) >= 0) {
      this.lines.push(this.buffer.slice(0, i).replace(/\r$/, ""));
      this.buffer = this.buffer.slice(i + 1);
    }
    if (this.buffer.length > 8192) this.socket.destroy(new Error("line longer than 8 KiB"));
    this.waiter?.();
  };
  private readonly onError = (error: Error) => {
    this.failure ??= error;
    this.waiter?.();
  };
  private readonly onClose = () => this.onError(new Error("connection closed by the server"));

  private constructor(readonly socket: Socket | TLSSocket) {
    // Buffers, not setEncoding: the same socket may be handed to TLS later (startTls).
    socket.on("data", this.onData);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
  }

  /**
   * Starts TLS on this connection (STARTTLS-style, e.g. FTP's AUTH TLS) and returns the line
   * reader of the TLS channel; this one must not be used afterwards. Anything the server sent
   * in clear after its go-ahead is refused: it could have been injected (RFC 4217 §4).
   */
  startTls(options: ConnectionOptions, signal: AbortSignal): Promise<LineSocket> {
    if (this.buffer !== "" || this.lines.length > 0) return Promise.reject(new Error("the server sent data in clear after agreeing to TLS"));
    this.socket.off("data", this.onData);
    this.socket.off("error", this.onError);
    this.socket.off("close", this.onClose);
    return new Promise((resolve, reject) => {
      const secure = tlsConnect({ ...options, socket: this.socket }, () => resolve(new LineSocket(secure)));
      secure.once("error", reject);
      secure.once("close", () => reject(new Error("connection closed during the TLS handshake")));
      signal.addEventListener("abort", () => secure.destroy(), { once: true });
    });
  }

  /** Opens a TCP (or TLS) connection to the target; rejects on error or abort. */
  static open(target: ProbeTarget, ctx: ProbeContext, tls = false): Promise<LineSocket> {
    return new Promise((resolve, reject) => {
      const options = { host: target.address, port: target.port.port };
      const socket = tls
        ? tlsConnect({ ...options, ...verifiedTls(ctx) }, () => resolve(new LineSocket(socket)))
        : tcpConnect(options, () => resolve(new LineSocket(socket)));
      socket.once("error", reject);
      ctx.signal.addEventListener("abort", () => socket.destroy(), { once: true });
    });
  }

  /** Next line, waiting if needed. */
  async line(): Promise<string> {
    for (;;) {
      const next = this.lines.shift();
      if (next !== undefined) return next;
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = undefined;
    }
  }

  /** Reads an SMTP-style reply ("250-…" continued, "250 …" last); returns its code and last line. */
  async reply(): Promise<{ code: string; text: string }> {
    for (let i = 0; i < 100; i++) {
      const l = await this.line();
      if (!/^\d{3}-/.test(l)) return { code: l.slice(0, 3), text: l };
    }
    throw new Error("reply longer than 100 lines");
  }

  write(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.end();
    this.socket.destroySoon?.();
  }
}

/** Greeting must match `expected`. */
export function greetingProbe(expected: RegExp, tls: boolean): Probe {
  return async (target, ctx) => {
    const s = await LineSocket.open(target, ctx, tls);
    try {
      const greeting = await s.line();
      if (!expected.test(greeting)) return { ok: false, degraded: true, detail: `unexpected greeting: ${greeting.slice(0, 80)}` };
      const verified = tls ? ", TLS verified" : "";
      return { ok: true, detail: `${greeting.slice(0, 60)}${verified}` };
    } finally {
      s.close();
    }
  };
}

/** SMTP: 220 greeting, EHLO answered with 250, QUIT. */
export const smtpProbe: Probe = async (target, ctx) => {
  const s = await LineSocket.open(target, ctx);
  try {
    const greeting = await s.reply();
    if (greeting.code !== "220") return { ok: false, degraded: true, detail: `greeting ${greeting.text.slice(0, 80)}` };
    s.write(`EHLO noc.${ctx.domain}\r\n`);
    const ehlo = await s.reply();
    if (ehlo.code !== "250") return { ok: false, degraded: true, detail: `EHLO answered ${ehlo.text.slice(0, 80)}` };
    s.write("QUIT\r\n");
    return { ok: true, detail: `EHLO 250 (${greeting.text.slice(4, 50)})` };
  } finally {
    s.close();
  }
};

/**
 * An FTP reply (RFC 959 §4.2): `xyz text`, or `xyz-text` followed by any lines up to the one
 * starting `xyz ` (the lines between need not carry the code). Returns the first line.
 */
async function ftpReply(s: LineSocket): Promise<{ code: string; text: string }> {
  const first = await s.line();
  const m = /^(\d{3})([ -])/.exec(first);
  if (!m) throw new Error(`not an FTP reply: ${first.slice(0, 80)}`);
  if (m[2] === " ") return { code: m[1]!, text: first };
  for (let i = 0; i < 200; i++) if ((await s.line()).startsWith(`${m[1]} `)) return { code: m[1]!, text: first };
  throw new Error("FTP reply longer than 200 lines");
}

/**
 * FTP with explicit TLS (RFC 4217): the 220 greeting (RFC 959 §4.2, possibly multi-line),
 * `AUTH TLS` answered 234 (§4), the TLS handshake on the same connection verified against
 * the datacenter CA for the service's name (`<service>.<domain>`, on the service's
 * certificate), then `QUIT` over TLS answered 221. No login is attempted.
 *
 * A server that greets but refuses AUTH TLS is degraded (it would make clients send their
 * passwords in clear); a certificate that does not verify is down, as for every TLS probe.
 */
export const ftpsProbe: Probe = async (target, ctx) => {
  const plain = await LineSocket.open(target, ctx);
  let s = plain;
  try {
    const greeting = await ftpReply(plain);
    if (greeting.code !== "220") return { ok: false, degraded: true, detail: `greeting ${greeting.text.slice(0, 80)}` };
    plain.write("AUTH TLS\r\n");
    const auth = await ftpReply(plain);
    if (auth.code !== "234") return { ok: false, degraded: true, detail: `AUTH TLS answered ${auth.text.slice(0, 80)} (no explicit TLS)` };
    const servername = `${target.service}.${ctx.domain}`;
    s = await plain.startTls({ servername, ...verifiedTls(ctx) }, ctx.signal);
    const protocol = (s.socket as TLSSocket).getProtocol?.() ?? "TLS";
    s.write("QUIT\r\n");
    const quit = await ftpReply(s);
    if (quit.code !== "221") return { ok: false, degraded: true, detail: `QUIT over TLS answered ${quit.text.slice(0, 80)}` };
    return { ok: true, detail: `220, AUTH TLS 234, ${protocol} verified as ${servername}, QUIT 221 (${greeting.text.slice(4, 44)})` };
  } finally {
    s.close();
  }
};
