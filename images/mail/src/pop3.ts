/**
 * POP3 (RFC 1939 + CAPA/UIDL/TOP from RFC 2449), on implicit TLS (995). The session works
 * on a snapshot of INBOX taken at login; DELE only marks, and marked messages are removed
 * when the client QUITs (the UPDATE state), so a dropped connection deletes nothing.
 */
import type { Socket } from "node:net";
import type { Logger } from "../../runtime/log";
import type { Authenticator } from "../../runtime/auth";
import { closeGracefully, ConnectionGuard, LineReader, type AddressCounter } from "./connection";
import type { MailLimits } from "./limits";
import type { MailStore, Mailbox, StoredMessage } from "./store";

export interface Pop3Deps {
  readonly store: MailStore;
  readonly auth: Authenticator;
  readonly log: Logger;
  readonly limits: MailLimits;
  /** Connections of this listener that have not logged in yet. */
  readonly preAuth: AddressCounter;
}

const MAX_LINE = 512; // RFC 2449: commands up to 255 octets; a little slack for clients
const MAX_ERRORS = 20;

/** Byte-stuffs a message for multi-line responses (a leading "." becomes ".."). */
function dotStuff(raw: Buffer): string {
  let text = raw.toString("latin1").replace(/\r?\n/g, "\r\n");
  if (!text.endsWith("\r\n")) text += "\r\n";
  return text.replace(/^\./gm, "..");
}

export function handlePop3Connection(socket: Socket, deps: Pop3Deps): void {
  const reader = new LineReader(MAX_LINE);
  let userName: string | undefined;
  let box: Mailbox | undefined;
  let snapshot: StoredMessage[] = [];
  const deleted = new Set<number>();
  let errors = 0;
  const send = (line: string) => !socket.destroyed && socket.write(`${line}\r\n`, "latin1");
  const pick = (arg: string | undefined): StoredMessage | undefined => {
    const n = Number(arg);
    if (!Number.isInteger(n) || n < 1 || n > snapshot.length || deleted.has(n)) return undefined;
    return snapshot[n - 1];
  };

  const handle = async (line: string): Promise<void> => {
    const [rawCmd = "", ...args] = line.split(" ");
    const cmd = rawCmd.toUpperCase();
    const err = (text: string) => {
      send(`-ERR ${text}`);
      if (++errors >= MAX_ERRORS) closeGracefully(socket);
    };
    if (cmd === "QUIT") {
      if (box && deleted.size > 0) await box.expunge([...deleted].map((n) => snapshot[n - 1]!.uid));
      send("+OK Serverpark POP3 signing off");
      closeGracefully(socket);
      return;
    }
    if (cmd === "CAPA") {
      send("+OK Capability list follows\r\nUSER\r\nUIDL\r\nTOP\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.");
      return;
    }
    if (cmd === "NOOP") return void send("+OK");
    if (!box) {
      if (cmd === "USER" && args.length === 1) {
        userName = args[0];
        return void send("+OK send PASS");
      }
      if (cmd === "PASS" && userName !== undefined) {
        const result = await deps.auth.login(socket.remoteAddress ?? "?", userName, line.slice(5));
        if (!result.ok || !deps.store.has(result.user)) {
          userName = undefined;
          return err(result.ok || result.reason === "invalid" ? "[AUTH] Invalid credentials" : "[AUTH] Too many failed logins; try again later");
        }
        box = deps.store.mailbox(result.user);
        guard.loggedIn();
        snapshot = [...box.messages];
        return void send(`+OK ${snapshot.length} messages`);
      }
      return err("Log in with USER and PASS first");
    }
    const live = () => snapshot.map((m, i) => ({ m, n: i + 1 })).filter(({ n }) => !deleted.has(n));
    switch (cmd) {
      case "STAT": {
        const l = live();
        return void send(`+OK ${l.length} ${l.reduce((s, { m }) => s + m.size, 0)}`);
      }
      case "LIST":
      case "UIDL": {
        const value = (m: StoredMessage) => (cmd === "LIST" ? String(m.size) : `${box!.uidValidity}.${m.uid}`);
        if (args[0] !== undefined) {
          const m = pick(args[0]);
          return m ? void send(`+OK ${args[0]} ${value(m)}`) : err("No such message");
        }
        return void send(["+OK", ...live().map(({ m, n }) => `${n} ${value(m)}`), "."].join("\r\n"));
      }
      case "RETR":
      case "TOP": {
        const m = pick(args[0]);
        if (!m) return err("No such message");
        let raw = await box.read(m.uid).catch(() => undefined);
        if (!raw) return err("Message was removed");
        if (cmd === "TOP") {
          const lines = Number(args[1]);
          if (!Number.isInteger(lines) || lines < 0) return err("TOP needs a line count");
          const split = raw.indexOf("\r\n\r\n");
          const head = split < 0 ? raw : raw.subarray(0, split + 4);
          const body =
            split < 0
              ? ""
              : raw
                  .subarray(split + 4)
                  .toString("latin1")
                  .split("\r\n")
                  .slice(0, lines)
                  .join("\r\n");
          raw = Buffer.concat([head, Buffer.from(body, "latin1")]);
        }
        socket.write(`+OK ${m.size} octets\r\n${dotStuff(raw)}.\r\n`, "latin1");
        return;
      }
      case "DELE": {
        if (!pick(args[0])) return err("No such message");
        deleted.add(Number(args[0]));
        return void send("+OK marked for deletion");
      }
      case "RSET":
        deleted.clear();
        return void send("+OK");
    }
    return err("Unknown command");
  };

  // Commands run one at a time; the socket is not read while they wait or replies pile up.
  const guard = new ConnectionGuard<string>(socket, deps.limits, deps.limits.pop3IdleMs, deps.preAuth, {
    run: (line) =>
      handle(line).catch((error: unknown) => {
        deps.log.error({ err: error }, "pop3 command failed");
        send("-ERR Internal error");
        closeGracefully(socket);
      }),
    bye: (reason) => {
      send(reason === "deadline" ? "-ERR Log in sooner" : reason === "budget" ? "-ERR Too many commands before login" : "-ERR Idle for too long");
      closeGracefully(socket);
    },
  });
  socket.on("data", (chunk: Buffer) => {
    if (!socket.writable) return;
    try {
      guard.accept(reader.push(chunk));
    } catch {
      send("-ERR Line too long");
      closeGracefully(socket);
    }
  });
  socket.on("error", () => undefined);
  if (guard.open) send("+OK Serverpark POP3 ready");
}
