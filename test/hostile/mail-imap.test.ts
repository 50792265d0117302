/**
 * IMAP under attack, against the real server process: chained huge literals before and
 * after LOGIN, a LIST pattern built to make a backtracking matcher explode, a command
 * flood whose replies are never read, and APPEND/STORE flags that are not IMAP flags. For
 * each: the attack fails, the server's RSS stays within RSS_GROWTH_MIB of what it was
 * before, and a real client (curl) is served during or right after it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curl, haveTools, PASSWORDS } from "../mail/support";
import { freePorts, sampleMax, startMailProcess, type MailProcess, type MailProcessPorts } from "../mail/process";
import { ATTACKER, flood, LineClient } from "./mailClients";

const enabled = haveTools("curl", "openssl");
/** Free ports picked at start: other suites run on this machine at the same time. */
let PORTS: MailProcessPorts;
/** The bound this file holds the server to: RSS growth during one attack, in MiB. */
const RSS_GROWTH_MIB = 48;
const MAX_MESSAGE = 1024 * 1024;

describe.skipIf(!enabled)("IMAP: hostile clients", () => {
  let server: MailProcess;
  beforeAll(async () => {
    PORTS = await freePorts();
    server = await startMailProcess(PORTS, { users: ["alice", "bob"], maxMessageBytes: MAX_MESSAGE, loginLimit: { maxFailures: 1000 } });
  }, 30_000);
  afterAll(() => server?.kill());

  const curlList = () => curl(["--insecure", "--user", `bob:${PASSWORDS.bob}`, `imaps://127.0.0.1:${PORTS.imaps}/`]);
  const login = async (opts: { read?: boolean } = {}) => {
    const c = await LineClient.open(PORTS.imaps, { localAddress: ATTACKER });
    await c.waitFor(/^\* OK .*\r\n/m);
    c.write(`l LOGIN alice ${PASSWORDS.alice}\r\n`);
    await c.waitFor(/^l OK .*\r\n/m);
    if (opts.read === false) c.socket.pause();
    return c;
  };

  it("refuses chained 1 MB literals before LOGIN: the connection is closed, memory stays bounded, curl is served", async () => {
    const before = server.rssMiB();
    const rss = sampleMax(() => server.rssMiB());
    const attack = async () => {
      const c = await LineClient.open(PORTS.imaps, { localAddress: ATTACKER });
      // Each literal is under the message size limit; 40 chained ones are not. LITERAL+
      // ({n+}): the client need not wait for the server's "+".
      const literal = Buffer.alloc(1_000_000, "x");
      let i = 0;
      const r = await flood(
        c.socket,
        () => Buffer.concat([Buffer.from(i++ === 0 ? "a LOGIN {1000000+}\r\n" : " {1000000+}\r\n"), literal]),
        40 * literal.length,
      );
      await c.closedWithin(5000);
      return { ...r, closed: c.closed, text: c.pending };
    };
    const [results, during] = await Promise.all([Promise.all([attack(), attack(), attack(), attack()]), curlList()]);
    const max = rss.stop();
    console.log(
      `imap pre-auth literals: RSS ${before.toFixed(0)} -> max ${max.toFixed(0)} MiB; written ${results.map((r) => (r.written >> 20) + " MiB").join(", ")}`,
    );
    for (const r of results) {
      expect(r.closed).toBe(true);
      expect(r.text).toMatch(/\* BYE .*too large/);
    }
    expect(during.code, during.err).toBe(0);
    expect(max - before).toBeLessThan(RSS_GROWTH_MIB);
  }, 120_000);

  it("refuses literals over the message size after LOGIN, also when chained", async () => {
    const before = server.rssMiB();
    const rss = sampleMax(() => server.rssMiB());
    const c = await login();
    const chunk = Buffer.alloc(512 * 1024, "y");
    let i = 0;
    const r = await flood(
      c.socket,
      () => Buffer.concat([Buffer.from(i++ === 0 ? "b APPEND INBOX {524288+}\r\n" : " {524288+}\r\n"), chunk]),
      40 * chunk.length,
    );
    await c.closedWithin(5000);
    const max = rss.stop();
    console.log(`imap post-auth chained literals: ${r.written >> 20} MiB written, RSS ${before.toFixed(0)} -> ${max.toFixed(0)} MiB`);
    expect(c.closed).toBe(true);
    expect(c.pending).toMatch(/\* BYE .*too large/);
    expect(max - before).toBeLessThan(RSS_GROWTH_MIB);
    // A single literal over the limit is refused too, a message under it is stored.
    const d = await login();
    d.write(`c APPEND INBOX {${MAX_MESSAGE + 1}}\r\n`);
    await d.waitFor(/^(c NO|\* BYE).*too large.*\r\n/im);
    d.destroy();
    const e = await login();
    e.write("d APPEND INBOX {12}\r\nSubject: x\r\n\r\n");
    await e.waitFor(/^d OK \[APPENDUID \d+ \d+\].*\r\n/m);
    e.destroy();
  }, 120_000);

  it("matches a LIST pattern of 80 %* pairs in linear time while POP3 clients are served", async () => {
    const c = await login();
    // No "Q" in INBOX: a backtracking matcher tries every way to split the name among 160 wildcards.
    const pattern = "%*".repeat(80) + "Q";
    c.write(`p LIST "" "${pattern}"\r\n` + `p2 LIST "" "*"\r\np3 LIST "" "i%X"\r\np4 LIST "" "%/%"\r\n`);
    const pop = await curl(["--insecure", "--user", `bob:${PASSWORDS.bob}`, `pop3s://127.0.0.1:${PORTS.pop3s}/`]);
    expect(pop.code, pop.err).toBe(0);
    expect(await c.waitFor(/^(\* LIST[^\r]*\r\n)?p OK .*\r\n/m)).toMatch(/^p OK/);
    // Semantics kept: "*" lists INBOX (then the standard folders), "i%X" (case-insensitive) lists INBOX.
    await c.waitFor(/\* LIST \(\\HasNoChildren\) "\/" INBOX\r\n(\* LIST [^\r]*\r\n)*p2 OK/);
    await c.waitFor(/\* LIST \(\\HasNoChildren\) "\/" INBOX\r\np3 OK/);
    // "%" does not cross the hierarchy delimiter: "%/%" names no mailbox here.
    expect(await c.waitFor(/^(\* LIST[^\r]*\r\n)?p4 OK.*\r\n/m)).toMatch(/^p4 OK/);
    c.destroy();
  }, 60_000);

  it("stops reading a client that floods commands and never reads the replies", async () => {
    const before = server.rssMiB();
    const rss = sampleMax(() => server.rssMiB());
    const c = await login({ read: false });
    const commands = Buffer.from("f CAPABILITY\r\n".repeat(4096));
    const r = await flood(c.socket, () => commands, 256 * 1024 * 1024);
    const during = await curlList();
    const max = rss.stop();
    console.log(`imap unread flood: ${r.written >> 20} MiB written before the server stopped reading; RSS ${before.toFixed(0)} -> ${max.toFixed(0)} MiB`);
    expect(r.stalled).toBe(true);
    expect(during.code, during.err).toBe(0);
    expect(max - before).toBeLessThan(RSS_GROWTH_MIB);
    c.destroy();
  }, 120_000);

  it("writes a whole-mailbox FETCH one message at a time to a client that does not read it", async () => {
    // 128 messages of 512 KiB (64 MiB) in bob's INBOX, appended by bob himself.
    const writer = await LineClient.open(PORTS.imaps);
    await writer.waitFor(/^\* OK .*\r\n/m);
    writer.write(`l LOGIN bob ${PASSWORDS.bob}\r\n`);
    await writer.waitFor(/^l OK .*\r\n/m);
    const body = Buffer.from(`Subject: big\r\n\r\n${"x".repeat(76)}\r\n`.repeat(6553).slice(0, 512 * 1024));
    for (let i = 0; i < 128; i++) {
      writer.write(`a${i} APPEND INBOX {${body.length}}\r\n`);
      await writer.waitFor(/^\+ .*\r\n/m);
      writer.write(Buffer.concat([body, Buffer.from("\r\n")]));
      await writer.waitFor(new RegExp(`^a${i} OK .*\r\n`, "m"));
    }
    writer.destroy();
    const before = server.rssMiB();
    const rss = sampleMax(() => server.rssMiB());
    const c = await LineClient.open(PORTS.imaps, { localAddress: ATTACKER });
    await c.waitFor(/^\* OK .*\r\n/m);
    c.write(`l LOGIN bob ${PASSWORDS.bob}\r\n`);
    await c.waitFor(/^l OK .*\r\n/m);
    c.write("s SELECT INBOX\r\n");
    await c.waitFor(/^s OK .*\r\n/m);
    c.socket.pause();
    c.write("f FETCH 1:* BODY.PEEK[]\r\n");
    await new Promise((r) => setTimeout(r, 3000));
    const during = await curlList();
    const max = rss.stop();
    console.log(`imap unread FETCH of 64 MiB: RSS ${before.toFixed(0)} -> ${max.toFixed(0)} MiB`);
    expect(during.code, during.err).toBe(0);
    expect(max - before).toBeLessThan(RSS_GROWTH_MIB);
    c.destroy();
  }, 180_000);

  it("ends an unauthenticated connection after its command budget, however cheap the commands", async () => {
    const c = await LineClient.open(PORTS.imaps, { localAddress: ATTACKER });
    c.write("n NOOP\r\n".repeat(10_000));
    expect(await c.closedWithin(10_000)).toBe(true);
    const answered = (c.pending.match(/^n OK/gm) ?? []).length;
    expect(answered).toBeLessThan(100);
    expect(c.pending).toMatch(/\* BYE .*(budget|commands)/i);
  }, 30_000);

  it("validates APPEND and STORE flags: unknown system flags and malformed keywords are refused", async () => {
    const c = await login();
    const append = (tag: string, flags: string) => {
      c.write(`${tag} APPEND INBOX (${flags}) {12+}\r\nSubject: f\r\n\r\n\r\n`);
      return c.waitFor(new RegExp(`^${tag} (OK|NO|BAD).*\\r\\n`, "m"));
    };
    expect(await append("a1", "\\Seen $Label1 Junk")).toMatch(/^a1 OK/);
    expect(await append("a2", "\\Bogus")).toMatch(/^a2 BAD/);
    expect(await append("a3", "\\Recent")).toMatch(/^a3 BAD/);
    expect(await append("a4", 'bad]flag "q"')).toMatch(/^a4 BAD/);
    expect(await append("a5", "(\\Seen)")).toMatch(/^a5 BAD/);
    c.write("s SELECT INBOX\r\n");
    await c.waitFor(/^s OK .*\r\n/m);
    c.write("t1 STORE 1 +FLAGS (\\Nope)\r\nt2 STORE 1 +FLAGS (\\Flagged Work)\r\n");
    await c.waitFor(/^t1 BAD.*\r\n/m);
    await c.waitFor(/^t2 OK.*\r\n/m);
    c.write("u UID FETCH 1:* (FLAGS)\r\n");
    const flags = await c.waitFor(/(\* \d+ FETCH .*\r\n)+u OK.*\r\n/);
    expect(flags).toContain("$Label1");
    expect(flags).not.toContain("Bogus");
    expect(flags).not.toContain("bad]flag");
    c.destroy();
  }, 30_000);
});
