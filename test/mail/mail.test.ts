/**
 * The mail role against real clients: swaks for SMTP (inbound, relay refusal, submission
 * with STARTTLS + AUTH, pipelining, size limit), curl for IMAP and POP3 over TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SMTPServer } from "smtp-server";
import type { AddressInfo } from "node:net";
import { curl, DOMAIN, haveTools, PASSWORDS, startTestMail, swaks, type TestMail } from "./support";

const enabled = haveTools("swaks", "curl", "openssl");

describe.skipIf(!enabled)("mail role with real clients", () => {
  let mail: TestMail;
  let smarthost: SMTPServer;
  const relayed: { to: string[]; body: string }[] = [];

  beforeAll(async () => {
    smarthost = new SMTPServer({
      authOptional: true,
      hideSTARTTLS: true,
      disableReverseLookup: true,
      logger: false,
      onData(stream, session, cb) {
        let body = "";
        stream.on("data", (c: Buffer) => (body += c.toString()));
        stream.on("end", () => {
          relayed.push({ to: session.envelope.rcptTo.map((r) => r.address), body });
          cb();
        });
      },
    });
    smarthost.on("error", () => undefined);
    await new Promise<void>((resolve) => smarthost.listen(0, "127.0.0.1", resolve));
    const port = (smarthost as unknown as { server: { address(): AddressInfo } }).server.address().port;
    mail = await startTestMail({
      smarthost: { host: "127.0.0.1", port },
      maxMessageBytes: 64 * 1024,
      retry: { initialDelayMs: 50, maxDelayMs: 100, giveUpAfterMs: 60_000 },
    });
  }, 30_000);

  afterAll(async () => {
    await mail?.app.close();
    await new Promise<void>((resolve) => smarthost?.close(() => resolve()));
  });

  const smtp = () => ["--server", "127.0.0.1", "--port", String(mail.app.ports.smtp)];
  const sub = () => ["--server", "127.0.0.1", "--port", String(mail.app.ports.submission)];
  const imaps = (path = "INBOX") => `imaps://127.0.0.1:${mail.app.ports.imaps}/${path}`;
  const tlsCurl = () => ["--cacert", mail.cert, "--resolve", `mail.${DOMAIN}:${mail.app.ports.imaps}:127.0.0.1`];

  it("accepts inbound mail for a local user, and IMAP and POP3 return it", async () => {
    const r = await swaks([
      ...smtp(),
      "--from",
      "sender@example.org",
      "--to",
      `alice@${DOMAIN}`,
      "--header",
      "Subject: hello alice",
      "--body",
      "inbound-marker-1",
    ]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/<. +250 2\.0\.0 Ok: queued/);

    const uid = mail.app.store.mailbox("alice").messages.at(-1)!.uid;
    const viaImap = await curl(["--insecure", "--user", `alice:${PASSWORDS.alice}`, `${imaps()};UID=${uid}`]);
    expect(viaImap.code, viaImap.err).toBe(0);
    expect(viaImap.out).toContain("inbound-marker-1");
    expect(viaImap.out).toContain("Subject: hello alice");

    const list = await curl(["--insecure", "--user", `alice:${PASSWORDS.alice}`, `pop3s://127.0.0.1:${mail.app.ports.pop3s}/`]);
    expect(list.code, list.err).toBe(0);
    const n = list.out.trim().split(/\r?\n/).length;
    const viaPop = await curl(["--insecure", "--user", `alice:${PASSWORDS.alice}`, `pop3s://127.0.0.1:${mail.app.ports.pop3s}/${n}`]);
    expect(viaPop.code, viaPop.err).toBe(0);
    expect(viaPop.out).toContain("inbound-marker-1");
  }, 30_000);

  it("verifies the server certificate with the CA (curl without --insecure)", async () => {
    const r = await curl([...tlsCurl(), "--user", `alice:${PASSWORDS.alice}`, `imaps://mail.${DOMAIN}:${mail.app.ports.imaps}/`]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("INBOX");
  });

  it("refuses relaying and unknown users on port 25", async () => {
    const relay = await swaks([...smtp(), "--from", "spammer@example.org", "--to", "victim@example.com"]);
    expect(relay.code).not.toBe(0);
    expect(relay.out).toMatch(/<\*\* 554 5\.7\.1 .*Relay access denied/);
    const unknown = await swaks([...smtp(), "--from", "a@example.org", "--to", `nobody@${DOMAIN}`]);
    expect(unknown.out).toMatch(/<\*\* 550 5\.1\.1/);
    const auth = await swaks([...smtp(), "--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", PASSWORDS.alice, "--to", `bob@${DOMAIN}`]);
    expect(auth.code).not.toBe(0); // no AUTH on the inbound port
  });

  it("enforces the size limit with 552 and supports PIPELINING", async () => {
    const big = await swaks([...smtp(), "--from", "a@example.org", "--to", `bob@${DOMAIN}`, "--body", "x".repeat(70 * 1024)]);
    expect(big.out).toMatch(/552 5\.3\.4/);
    const piped = await swaks([...smtp(), "--pipeline", "--from", "a@example.org", "--to", `bob@${DOMAIN}`, "--body", "pipelined-body"]);
    expect(piped.code, piped.out).toBe(0);
    expect(piped.out).toContain("PIPELINING");
  });

  it("submission: AUTH only after STARTTLS, then local delivery and relay to the smarthost", async () => {
    const plain = await swaks([
      ...sub(),
      "--auth",
      "PLAIN",
      "--auth-user",
      "alice",
      "--auth-password",
      PASSWORDS.alice,
      "--from",
      `alice@${DOMAIN}`,
      "--to",
      `bob@${DOMAIN}`,
    ]);
    expect(plain.code).not.toBe(0);
    expect(plain.out).not.toMatch(/235 /);

    const noAuth = await swaks([...sub(), "--tls", "--from", `alice@${DOMAIN}`, "--to", `bob@${DOMAIN}`]);
    expect(noAuth.code).not.toBe(0);
    expect(noAuth.out).toMatch(/530 /);

    const before = relayed.length;
    for (const method of ["PLAIN", "LOGIN"]) {
      const ok = await swaks([
        ...sub(),
        "--tls",
        "--auth",
        method,
        "--auth-user",
        "alice",
        "--auth-password",
        PASSWORDS.alice,
        "--from",
        `alice@${DOMAIN}`,
        "--to",
        `bob@${DOMAIN},friend@example.net`,
        "--body",
        `submitted-${method}`,
      ]);
      expect(ok.code, ok.out).toBe(0);
      expect(ok.out).toMatch(/<~ +235 /);
    }
    for (let i = 0; i < 100 && relayed.length < before + 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(relayed.slice(before).map((m) => m.to)).toEqual([["friend@example.net"], ["friend@example.net"]]);
    expect(relayed.at(-1)!.body).toContain("submitted-LOGIN");
    expect(mail.app.queue.size).toBe(0);

    const forged = await swaks([
      ...sub(),
      "--tls",
      "--auth",
      "PLAIN",
      "--auth-user",
      "alice",
      "--auth-password",
      PASSWORDS.alice,
      "--from",
      `bob@${DOMAIN}`,
      "--to",
      `bob@${DOMAIN}`,
    ]);
    expect(forged.out).toMatch(/553 5\.7\.1/);
  }, 60_000);

  it("IMAP: search, flags, expunge through curl custom requests", async () => {
    const base = ["--insecure", "--user", `bob:${PASSWORDS.bob}`];
    const search = await curl([...base, "-X", "UID SEARCH ALL", imaps()]);
    expect(search.code, search.err).toBe(0);
    const uids = search.out.replace("* SEARCH", "").trim().split(/\s+/).filter(Boolean).map(Number);
    expect(uids.length).toBeGreaterThanOrEqual(3);
    const text = await curl([...base, "-X", "UID SEARCH BODY submitted-LOGIN", imaps()]);
    expect(text.out.trim()).toMatch(/^\* SEARCH \d+$/);
    const store = await curl([...base, "-X", `UID STORE ${uids[0]} +FLAGS (\\Deleted \\Flagged)`, imaps()]);
    expect(store.out).toMatch(/FLAGS \(\\Deleted \\Flagged\)/);
    const expunge = await curl([...base, "-X", "EXPUNGE", imaps()]);
    expect(expunge.out).toMatch(/\* 1 EXPUNGE/);
    expect(mail.app.store.mailbox("bob").find(uids[0]!)).toBeUndefined();
    const fetch = await curl([...base, "-X", `UID FETCH ${uids[1]} (FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])`, imaps()]);
    expect(fetch.code, fetch.err).toBe(0);
    expect(fetch.out).toMatch(/ENVELOPE \(/);
    expect(fetch.out).toMatch(/BODYSTRUCTURE \("TEXT" "PLAIN"/);
  }, 30_000);

  it("rejects wrong passwords and then rate-limits the client", async () => {
    const bad = await curl(["--insecure", "--user", "alice:wrong", imaps()]);
    expect(bad.code).not.toBe(0);
    for (let i = 0; i < 5; i++) await curl(["--insecure", "--user", "alice:wrong", `pop3s://127.0.0.1:${mail.app.ports.pop3s}/`]);
    const blocked = await curl(["--insecure", "--user", `alice:${PASSWORDS.alice}`, imaps()]);
    expect(blocked.code).not.toBe(0); // even the right password is refused while blocked
    const viaSmtp = await swaks([
      ...sub(),
      "--tls",
      "--auth",
      "PLAIN",
      "--auth-user",
      "alice",
      "--auth-password",
      PASSWORDS.alice,
      "--from",
      `alice@${DOMAIN}`,
      "--to",
      `bob@${DOMAIN}`,
    ]);
    expect(viaSmtp.out).toMatch(/454 4\.7\.0/);
  }, 60_000);
});
