/**
 * The long fuzz run for one mail protocol (smtp, imap, pop3), shared by the three
 * `<protocol>.fuzz.ts` files and following the contract at the top of run.ts: the real
 * server (images/mail/src/main.ts) in a child process, `count` generated inputs over real
 * sockets, the server's RSS sampled throughout, and a real client's round trip after every
 * round (an answer later than PROBE_MS is a hang; an exit of the server is a crash).
 * Inputs come from the suite's generator (test/mail/fuzzInputs.ts). One connection in five
 * logs in first, so the commands after login are fuzzed too.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { burst, CLOSING, input, prng, type FuzzProtocol } from "../../test/mail/fuzzInputs";
import { freePorts, sampleMax, startMailProcess, type MailProcess, type MailProcessPorts } from "../../test/mail/process";
import { RawSmtp } from "../../test/mail/rawSmtp";
import { DOMAIN, PASSWORDS } from "../../test/mail/support";
import { LineClient } from "../../test/hostile/mailClients";

/** Resident memory the server may reach during the run, in MiB (it starts near 110). */
const RSS_BOUND_MIB = 320;
const PROBE_MS = 10_000;
const PARALLEL = 6;
/** Before login the server ends a connection after 30 commands; after it, no budget. */
const LINES_BEFORE_LOGIN = 25;
const LINES_AFTER_LOGIN = 250;

const LOGIN: Record<FuzzProtocol, string[]> = {
  smtp: [`EHLO fuzz.test`, `MAIL FROM:<fuzz@example.org>`, `RCPT TO:<bob@${DOMAIN}>`],
  imap: [`l LOGIN bob ${PASSWORDS.bob}`, "s SELECT INBOX"],
  pop3: ["USER bob", `PASS ${PASSWORDS.bob}`],
};

/** One real round trip per protocol; resolves false when no answer came within PROBE_MS. */
async function probe(protocol: FuzzProtocol, ports: MailProcessPorts): Promise<boolean> {
  const timeout = new Promise<false>((r) => setTimeout(() => r(false), PROBE_MS).unref());
  const attempt = async (): Promise<boolean> => {
    if (protocol === "smtp") {
      const client = await RawSmtp.open(ports.smtp);
      const reply = await client.send("probe@example.org", `alice@${DOMAIN}`, "Subject: probe\r\n\r\nalive");
      client.close();
      return reply.startsWith("250");
    }
    const c = await LineClient.open(protocol === "imap" ? ports.imaps : ports.pop3s);
    try {
      if (protocol === "imap") {
        await c.waitFor(/^\* OK .*\r\n/m, PROBE_MS);
        c.write(`p LOGIN alice ${PASSWORDS.alice}\r\np2 STATUS INBOX (MESSAGES)\r\n`);
        await c.waitFor(/^p2 OK.*\r\n/m, PROBE_MS);
      } else {
        await c.waitFor(/^\+OK .*\r\n/m, PROBE_MS);
        c.write(`USER alice\r\nPASS ${PASSWORDS.alice}\r\nSTAT\r\n`);
        await c.waitFor(/^\+OK \d+ \d+\r\n/m, PROBE_MS);
      }
      return true;
    } finally {
      c.destroy();
    }
  };
  return Promise.race([attempt().catch(() => false), timeout]);
}

export async function runMailFuzz(protocol: FuzzProtocol, count: number, seed: number): Promise<number> {
  const started = Date.now();
  const ports = await freePorts();
  const server: MailProcess = await startMailProcess(ports, {
    users: ["alice", "bob"],
    maxMessageBytes: 1024 * 1024,
    loginLimit: { maxFailures: 1_000_000, windowMs: 1000, blockMs: 100 },
  });
  let crashed = false;
  server.child.once("exit", () => (crashed = true));
  const rss = sampleMax(() => server.rssMiB());
  // SMTP: the "logged-in" connections are on 25 inside an envelope; the others on 25 or 587.
  const open = (login: boolean, rand: () => number): Socket =>
    protocol === "smtp"
      ? tcpConnect(login || rand() < 0.5 ? ports.smtp : ports.submission, "127.0.0.1")
      : tlsConnect({ host: "127.0.0.1", port: protocol === "imap" ? ports.imaps : ports.pop3s, rejectUnauthorized: false });
  const rand = prng(seed);
  let sent = 0;
  let hangs = 0;
  let round = 0;
  while (sent < count && !crashed) {
    await Promise.all(
      Array.from({ length: PARALLEL }, () => {
        const login = rand() < 0.2;
        const n = Math.min(login ? LINES_AFTER_LOGIN : LINES_BEFORE_LOGIN, count - sent);
        if (n <= 0) return undefined;
        const lines = Array.from({ length: n }, () => input(rand, protocol));
        sent += n;
        const all = [...(login ? LOGIN[protocol] : []), ...lines, CLOSING[protocol]];
        return burst(open(login, rand), all, 1500);
      }),
    );
    if (++round % 20 === 0 && !crashed && !(await probe(protocol, ports))) hangs++;
    if (round % 200 === 0) console.error(`${protocol}: ${sent} inputs, RSS max ${rss.max.toFixed(0)} MiB`);
  }
  if (!crashed && !(await probe(protocol, ports))) hangs++;
  const rssMaxMiB = rss.stop();
  const crashes = crashed ? 1 : 0; // before kill(), whose exit is not a crash
  await server.kill();
  const summary = {
    protocol,
    inputs: sent,
    crashes,
    hangs,
    rssMaxMiB: Math.round(rssMaxMiB * 10) / 10,
    rssBoundMiB: RSS_BOUND_MIB,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  console.log(JSON.stringify(summary));
  return summary.crashes === 0 && hangs === 0 && rssMaxMiB <= RSS_BOUND_MIB ? 0 : 1;
}

/** Entry for `<protocol>.fuzz.ts <count>`. */
export function main(protocol: FuzzProtocol, seed: number): void {
  const count = Number(process.argv[2] ?? 100_000);
  runMailFuzz(protocol, count, seed).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
