/** Seeded generators of malformed and hostile HTTP requests and a raw-socket exchange, shared by the web and proxy bad-input tests and bench/fuzz/http.fuzz.ts. */
import { connect } from "node:net";

export function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const GOOD = "GET /index.html HTTP/1.1\r\nHost: a.test\r\nAccept-Encoding: gzip\r\n\r\n";

export function malformedRequest(random: () => number, i: number): Buffer {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  switch (i % 8) {
    case 0: {
      const b = Buffer.from(GOOD);
      for (let k = 0; k < 1 + Math.floor(random() * 5); k++) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
      return b;
    }
    case 1:
      return Buffer.from(GOOD.slice(0, Math.floor(random() * GOOD.length)) + "\r\n\r\n");
    case 2:
      return Buffer.from(`GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
    case 3:
      return Buffer.from(`GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: ${"b".repeat(17_000)}\r\n\r\n`);
    case 4:
      return Buffer.from(`GET / HTTP/1.1\r\nHost: a.test\r\nBad\x01Header: x\r\nX: \x00\x7f\r\n\r\n`);
    case 5:
      return Buffer.from(
        `POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: ${pick(["-1", "abc", "99999999999999999999", "5, 6"])}\r\nTransfer-Encoding: ${pick(["chunked", "gzip, chunked", "bogus"])}\r\n\r\nzz\r\n`,
      );
    case 6:
      return Buffer.from(
        `${pick(["GET", "G\tET", "\x16\x03\x01", "PRI", "BREW"])} ${pick(["/", "*", "http://x/../../", "/%", "//", "/\x7f"])} ${pick(["HTTP/1.1", "HTTP/9.9", "HTTP/1.1x", ""])}\r\nHost: ${pick(["a.test", "", "a.test:99999", "[::1"])}\r\n\r\n`,
      );
    default:
      return Buffer.from(Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
  }
}

const HOSTILE_PATHS = [
  "/../etc/passwd",
  "/%2e%2e/%2e%2e/etc/passwd",
  "/sub/..%2f..%2f",
  "/%ff%fe",
  "/index.html%00",
  "/passwd",
  "/up/outside.txt",
  "/.git/config",
  "/" + "x".repeat(2000),
  "/sub",
  "/style.css",
  "/%",
  "/a?b=%%%",
  "/\\..\\",
];
const HOSTILE_HEADERS = [
  "Range: bytes=5-1",
  "Range: bytes=-0",
  "Range: bytes=99999999999999999999-",
  "Range: items=1-2",
  "If-None-Match: *",
  'If-Match: W/"x"',
  "If-Modified-Since: yesterday",
  "Accept-Encoding: br;q=abc, gzip;q=-1",
  "If-Range: garbage",
  "X: y",
  "X-Dup: 1",
];

/** A well-framed request (so it can be pipelined) with a hostile method, path, host and headers. */
export function hostileRequest(random: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  return `${pick(["GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND"])} ${pick(HOSTILE_PATHS)} HTTP/1.1\r\nHost: ${pick(["a.test", "b.test", "nope", "A.TEST."])}\r\n${pick(HOSTILE_HEADERS)}\r\n${pick(HOSTILE_HEADERS)}\r\n\r\n`;
}

/** Sends one raw request; resolves with what came back before the server closed (or 2 s passed). */
export function rawExchange(port: number, data: Buffer, endAfterWrite = true, timeoutMs = 2000): Promise<string> {
  return rawExchangeDetailed(port, data, endAfterWrite, timeoutMs).then((r) => r.reply);
}

/** Like rawExchange, and says who ended the connection: the server, or our own timeout. */
export function rawExchangeDetailed(
  port: number,
  data: Buffer,
  endAfterWrite = true,
  timeoutMs = 2000,
): Promise<{ reply: string; endedBy: "server" | "client-timeout" | "error" }> {
  return new Promise((resolve) => {
    let reply = "";
    let timedOut = false;
    const socket = connect(port, "127.0.0.1", () => (endAfterWrite ? socket.end(data) : socket.write(data)));
    socket.setTimeout(timeoutMs, () => {
      timedOut = true;
      socket.destroy();
    });
    socket.on("data", (d: Buffer) => (reply += d.toString("latin1")));
    socket.on("error", (e) => resolve({ reply: reply || `error: ${e.message}`, endedBy: timedOut ? "client-timeout" : "error" }));
    socket.on("close", () => resolve({ reply, endedBy: timedOut ? "client-timeout" : "server" }));
  });
}
