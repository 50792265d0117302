/**
 * The mail fuzz inputs, shared by the suite's 10,000-input fuzz (test/mail/fuzz.test.ts) and
 * the long runs (bench/fuzz/{smtp,imap,pop3}.fuzz.ts): malformed commands, injection attempts
 * in addresses, oversized lines and binary garbage, from a seeded generator so a failure can
 * be replayed.
 */
import type { Socket } from "node:net";
import { DOMAIN } from "./support";

/** mulberry32: small, seeded, good enough to vary inputs reproducibly. */
export function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INJECTIONS = [
  "a@b>\r\nRCPT TO:<x@evil.example",
  "`id`@x.test",
  "$(reboot)@x.test",
  "a@b;rm -rf /",
  "../../etc/passwd@x",
  "a\0b@c",
  '"quoted"@x',
  "<>",
  "@",
  "a@",
  "a@b@c",
  "a%b@c",
  "a@[127.0.0.1]",
  "x".repeat(300) + "@y",
  "alice@" + DOMAIN + "\r\nDATA",
];
export const VERBS = {
  smtp: ["HELO", "EHLO", "MAIL FROM:", "RCPT TO:", "DATA", "RSET", "NOOP", "VRFY", "EXPN", "AUTH PLAIN", "STARTTLS", "BDAT", "QUIT", "XCLIENT"],
  imap: [
    "LOGIN",
    "SELECT",
    "FETCH 1:* (BODY[",
    "UID FETCH",
    "STORE 1 +FLAGS",
    "SEARCH OR",
    "LIST",
    "APPEND INBOX {99999999}",
    "AUTHENTICATE PLAIN",
    "IDLE",
    "CAPABILITY",
    "EXPUNGE",
    "STATUS INBOX (",
    "LOGIN {3}",
  ],
  pop3: ["USER", "PASS", "STAT", "LIST", "UIDL", "RETR", "DELE", "TOP", "RSET", "CAPA", "APOP", "QUIT"],
};

export function input(rand: () => number, protocol: FuzzProtocol): string {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)]!;
  const garbage = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(rand() * 256))).join("");
  const r = rand();
  if (r < 0.002) return "A".repeat(20_000 + Math.floor(rand() * 60_000)); // oversized line
  if (r < 0.3) return garbage(Math.floor(rand() * 120));
  const verb = pick(VERBS[protocol]);
  const tag = protocol === "imap" ? `${pick(["a1", "*", "", "x(", "\\"])} ` : "";
  const arg = rand() < 0.5 ? pick(INJECTIONS) : garbage(Math.floor(rand() * 40));
  return `${tag}${verb}${rand() < 0.5 ? "<" : " "}${arg}${rand() < 0.3 ? ">" : ""}`;
}

export type FuzzProtocol = keyof typeof VERBS;

/** The command that ends a session; sent last, it closes the connection early when the inputs left it in a sane state. */
export const CLOSING: Record<FuzzProtocol, string> = { smtp: "QUIT", imap: "z LOGOUT", pop3: "QUIT" };

/**
 * Sends `lines` on one connection once the server has greeted (smtp-server drops a client
 * that talks first with "421 You talk too soon", which would leave the inputs unread), then
 * resolves when the server closes the connection or after `waitMs`.
 */
export async function burst(socket: Socket, lines: readonly string[], waitMs: number): Promise<void> {
  socket.on("error", () => undefined);
  await new Promise<void>((resolve) => {
    socket.once("close", () => resolve());
    socket.once("data", () => {
      socket.write(Buffer.from(`${lines.join("\r\n")}\r\n`, "latin1"));
      socket.resume();
    });
    setTimeout(resolve, waitMs);
  });
  socket.destroy();
}
