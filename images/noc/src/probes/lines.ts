/**
 * Line-oriented text protocols (SMTP, IMAP, POP3, FTP): connect over TCP or TLS, read the
 * greeting, optionally talk a little (EHLO), and hang up politely. Hand-written on net/tls
 * because a greeting check needs none of a full client library's machinery.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { Probe, ProbeContext, ProbeTarget } from "./types";

export class LineSocket {
  private buffer = "";
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(readonly socket: Socket | TLSSocket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf("\n")) >= 0) {
        this.lines.push(this.buffer.slice(0, i).replace(/\r$/, ""));
        this.buffer = this.buffer.slice(i + 1);
      }
      if (this.buffer.length > 8192) socket.destroy(new Error("line longer than 8 KiB"));
      this.waiter?.();
    });
    const fail = (error: Error) => {
      this.failure ??= error;
      this.waiter?.();
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("connection closed by the server")));
  }

  /** Opens a TCP (or TLS) connection to the target; rejects on error or abort. */
  static open(target: ProbeTarget, ctx: ProbeContext, tls = false): Promise<LineSocket> {
    return new Promise((resolve, reject) => {
      const options = { host: target.address, port: target.port.port };
      const socket = tls
        ? tlsConnect({ ...options, ca: ctx.ca, rejectUnauthorized: ctx.ca !== undefined }, () => resolve(new LineSocket(socket)))
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
      const verified = tls ? (ctx.ca ? ", TLS verified" : ", TLS unverified (no CA)") : "";
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
