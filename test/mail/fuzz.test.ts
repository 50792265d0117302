/**
 * Bad input: malformed commands, injection attempts in addresses, oversized lines and
 * binary garbage — 10,000 inputs per protocol (SMTP, IMAP, POP3) over real sockets, with a
 * seeded generator so a failure can be replayed. Each client gets a protocol error; the
 * server keeps serving everyone else, which real clients check afterwards.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandReader, ImapSyntaxError, tokenize } from "../../images/mail/src/imap/parser";
import { compileSearch } from "../../images/mail/src/imap/search";
import { parseFetchItems } from "../../images/mail/src/imap/fetch";
import { curl, DOMAIN, haveTools, PASSWORDS, startTestMail, type TestMail } from "./support";
import { burst, CLOSING, input, prng, type FuzzProtocol } from "./fuzzInputs";
import { RawSmtp } from "./rawSmtp";

const INPUTS = 10_000;
/** Under the 30 commands the IMAP and POP3 servers allow before login (then they hang up). */
const PER_CONNECTION = 25;

async function fuzz(protocol: FuzzProtocol, open: () => Socket, seed: number): Promise<number> {
  const rand = prng(seed);
  let sent = 0;
  while (sent < INPUTS) {
    // Four connections at a time keeps it within a few seconds on two cores.
    await Promise.all(
      Array.from({ length: 4 }, () => {
        const lines = Array.from({ length: PER_CONNECTION }, () => input(rand, protocol));
        sent += lines.length;
        return burst(open(), [...lines, CLOSING[protocol]], 400);
      }),
    );
  }
  return sent;
}

describe("IMAP parser fuzz (in-process)", () => {
  it("only ever throws ImapSyntaxError for 10,000 random commands", () => {
    const rand = prng(7);
    for (let i = 0; i < INPUTS; i++) {
      const text = input(rand, "imap");
      for (const fn of [() => tokenize(text, []), () => compileSearch(tokenize(text, [])), () => parseFetchItems(tokenize(text, [])[0])]) {
        try {
          fn();
        } catch (error) {
          if (!(error instanceof ImapSyntaxError)) throw new Error(`input ${JSON.stringify(text)} threw ${String(error)}`);
        }
      }
      const reader = new CommandReader(1024, () => undefined);
      try {
        reader.push(Buffer.from(`${text}\r\n`, "latin1"));
      } catch (error) {
        if (!(error instanceof ImapSyntaxError)) throw error;
      }
    }
  });
});

const enabled = haveTools("curl", "openssl");

describe.skipIf(!enabled)("protocol fuzz over sockets", () => {
  let mail: TestMail;
  beforeAll(async () => {
    mail = await startTestMail({ loginLimit: { maxFailures: 1_000_000, windowMs: 1000, blockMs: 100 } });
  }, 30_000);
  afterAll(async () => {
    await mail?.app.close();
  });

  const tls = (port: number) => () => tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });

  it("SMTP: 10,000 bad inputs, then a real delivery still works", async () => {
    const started = Date.now();
    const sent = await fuzz("smtp", () => tcpConnect(mail.app.ports.smtp, "127.0.0.1"), 1);
    const client = await RawSmtp.open(mail.app.ports.smtp);
    const reply = await client.send("ok@example.org", `bob@${DOMAIN}`, "Subject: after fuzz\r\n\r\nstill here");
    client.close();
    expect(reply).toMatch(/^250 /);
    expect(sent).toBeGreaterThanOrEqual(INPUTS);
    // Injected recipients never became deliveries: only bob's real message is there.
    expect(mail.app.store.mailbox("alice").messages.length).toBe(0);
    console.log(`smtp fuzz: ${sent} inputs in ${Date.now() - started} ms`);
  }, 60_000);

  it("IMAP: 10,000 bad inputs, then curl still logs in and lists", async () => {
    const started = Date.now();
    const sent = await fuzz("imap", tls(mail.app.ports.imaps), 2);
    const r = await curl(["--insecure", "--user", `bob:${PASSWORDS.bob}`, `imaps://127.0.0.1:${mail.app.ports.imaps}/`]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("INBOX");
    console.log(`imap fuzz: ${sent} inputs in ${Date.now() - started} ms`);
  }, 60_000);

  it("POP3: 10,000 bad inputs, then curl still lists", async () => {
    const started = Date.now();
    const sent = await fuzz("pop3", tls(mail.app.ports.pop3s), 3);
    const r = await curl(["--insecure", "--user", `bob:${PASSWORDS.bob}`, `pop3s://127.0.0.1:${mail.app.ports.pop3s}/`]);
    expect(r.code, r.err).toBe(0);
    console.log(`pop3 fuzz: ${sent} inputs in ${Date.now() - started} ms`);
  }, 60_000);
});
