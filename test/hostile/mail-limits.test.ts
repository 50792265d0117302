/**
 * Mail limits that need short deadlines or a prepared data volume (the app in-process):
 * the pre-authentication deadline that activity does not extend (IMAP, POP3, submission),
 * the port-25 session deadline, a corrupt mailbox state.json that is quarantined instead
 * of stopping the role, and the fsync of a new mailbox folder's parent (seen with strace).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { curl, DOMAIN, haveTools, PASSWORDS, startTestMail, swaks, type TestMail } from "../mail/support";
import { LineClient } from "./mailClients";

const enabled = haveTools("curl", "openssl", "swaks");

/** Sends `line` every 200 ms until the server closes; true when it closed within `ms`. */
async function keepBusy(c: LineClient, line: string, ms: number): Promise<boolean> {
  const timer = setInterval(() => c.write(line), 200);
  const closed = await c.closedWithin(ms);
  clearInterval(timer);
  return closed;
}

describe.skipIf(!enabled)("mail limits with short deadlines", () => {
  let mail: TestMail | undefined;
  afterEach(async () => {
    await mail?.app.close();
    mail = undefined;
  });

  it("ends IMAP, POP3 and submission connections that do not log in before the deadline, however busy", async () => {
    mail = await startTestMail({}, undefined, { preAuthMs: 1500, preAuthCommands: 1000 });
    const { ports } = mail.app;
    const imap = await LineClient.open(ports.imaps);
    const pop3 = await LineClient.open(ports.pop3s);
    const sub = await LineClient.open(ports.submission, { tls: false });
    await sub.waitFor(/^220 .*\r\n/m);
    const results = await Promise.all([keepBusy(imap, "n NOOP\r\n", 8000), keepBusy(pop3, "NOOP\r\n", 8000), keepBusy(sub, "NOOP\r\n", 8000)]);
    expect(results).toEqual([true, true, true]);
    expect(imap.pending).toMatch(/\* BYE .*log in/i);
    // A client that logs in in time is not affected.
    const r = await curl(["--insecure", "--user", `bob:${PASSWORDS.bob}`, `imaps://127.0.0.1:${ports.imaps}/`]);
    expect(r.code, r.err).toBe(0);
  }, 30_000);

  it("ends a port-25 session at its deadline, however busy", async () => {
    mail = await startTestMail({}, undefined, { smtpSessionMs: 1500 });
    const c = await LineClient.open(mail.app.ports.smtp, { tls: false });
    await c.waitFor(/^220 .*\r\n/m);
    expect(await keepBusy(c, "NOOP\r\n", 8000)).toBe(true);
    expect(c.pending).toMatch(/^421 /m);
  }, 30_000);

  it("quarantines a mailbox whose state.json is corrupt and keeps serving everyone", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sp-mail-corrupt-"));
    const alice = join(dataDir, "mailboxes", "alice");
    mkdirSync(join(alice, "msg"), { recursive: true });
    writeFileSync(join(alice, "msg", "1"), "Subject: old\r\n\r\nkept for the operator\r\n");
    writeFileSync(join(alice, "state.json"), '{"uidValidity": 12, "uidNext":');
    mail = await startTestMail({}, dataDir);
    const quarantine = join(dataDir, "mailboxes", ".quarantine");
    const moved = readdirSync(quarantine);
    expect(moved).toHaveLength(1);
    expect(moved[0]).toMatch(/^alice\./);
    expect(readFileSync(join(quarantine, moved[0]!, "msg", "1"), "utf8")).toContain("kept for the operator");
    for (const user of ["alice", "bob"]) {
      const r = await swaks(["--server", "127.0.0.1", "--port", String(mail.app.ports.smtp), "--from", "x@example.org", "--to", `${user}@${DOMAIN}`]);
      expect(r.code, r.out).toBe(0);
    }
    const r = await curl(["--insecure", "--user", `alice:${PASSWORDS.alice}`, "-X", "STATUS INBOX (MESSAGES)", `imaps://127.0.0.1:${mail.app.ports.imaps}/`]);
    expect(r.out).toContain("MESSAGES 1");
    expect(existsSync(join(alice, "state.json"))).toBe(true);
  }, 30_000);
});

describe.skipIf(!haveTools("strace"))("mailbox creation is durable", () => {
  it("fsyncs the parent of every folder it creates (strace)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-mail-fsync-"));
    const root = join(dir, "mailboxes");
    const script = `import { MailStore } from "./images/mail/src/store.ts"; await MailStore.open(${JSON.stringify(root)}, ["alice"]);`;
    const trace = join(dir, "trace.txt");
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        "strace",
        ["-f", "-y", "-e", "trace=fsync,fdatasync", "-o", trace, process.execPath, "--import", "tsx", "--input-type=module", "-e", script],
        {
          stdio: "ignore",
        },
      );
      child.on("exit", resolve);
    });
    expect(code).toBe(0);
    const synced = new Set([...readFileSync(trace, "utf8").matchAll(/f(?:data)?sync\(\d+<([^>]+)>\)\s+= 0/g)].map((m) => m[1]));
    // New: mailboxes/ (in dir), alice/ (in mailboxes/), msg/ and tmp/ (in alice/).
    for (const parent of [dir, root, join(root, "alice")]) expect(synced, `no fsync of ${parent}`).toContain(parent);
  }, 60_000);
});
