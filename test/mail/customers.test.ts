/**
 * Hosting customers' mailboxes (issue 19): mail for each customer domain by full address,
 * log-in with the full address, the standard folders with SPECIAL-USE, folders confined to
 * the account, and the plan's per-mailbox quota (SMTP 452/552 4.2.2/5.2.2, IMAP NO
 * [OVERQUOTA]). Real clients: swaks and curl; the raw client (./imapClient.ts) only where
 * curl cannot send the bytes (a NUL in a literal) or shows no reply code.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../contracts/credentials/scrypt";
import { MAX_FOLDERS } from "../../images/mail/src/account";
import { Imap } from "./imapClient";
import { curl, haveTools, startTestMail, swaks, type TestMail } from "./support";

const enabled = haveTools("swaks", "curl", "openssl");
const PASSWORDS = { "info@acme.test": "acme-info-pw", "info@globex.test": "globex-info-pw", "small@acme.test": "acme-small-pw" } as const;
type Address = keyof typeof PASSWORDS;
const SMALL_QUOTA = 4096;

describe.skipIf(!enabled)("hosting customers' mailboxes", () => {
  let mail: TestMail;

  beforeAll(async () => {
    mail = await startTestMail(
      {},
      undefined,
      {},
      {
        mailboxes: [
          { address: "info@acme.test", quotaBytes: 1024 * 1024 },
          { address: "small@acme.test", quotaBytes: SMALL_QUOTA },
          { address: "info@globex.test", quotaBytes: 1024 * 1024 },
        ],
        customerDomains: ["acme.test", "globex.test", "empty.test"],
        credentials: Object.fromEntries(Object.entries(PASSWORDS).map(([a, p]) => [a, hashPassword(p)])),
      },
    );
  }, 30_000);
  afterAll(() => mail?.app.close());

  const smtp = () => ["--server", "127.0.0.1", "--port", String(mail.app.ports.smtp), "--from", "sender@example.org"];
  const imaps = (path = "") => `imaps://127.0.0.1:${mail.app.ports.imaps}/${path}`;
  const as = (address: Address) => ["--insecure", "--user", `${address}:${PASSWORDS[address]}`];
  const body = (size: number) => "x".repeat(size);

  it("delivers to a customer mailbox by full address; curl logs in with it and reads the message", async () => {
    const sent = await swaks([...smtp(), "--to", "info@acme.test", "--header", "Subject: for acme", "--body", "acme-marker-1"]);
    expect(sent.code, sent.out).toBe(0);
    expect(sent.out).toMatch(/<. +250 2\.0\.0 Ok: queued/);
    const uid = mail.app.store.mailbox("info@acme.test").messages.at(-1)!.uid;
    const read = await curl([...as("info@acme.test"), `${imaps("INBOX")};UID=${uid}`]);
    expect(read.code, read.err).toBe(0);
    expect(read.out).toContain("acme-marker-1");
    // Same local part on another customer's domain: another mailbox, untouched.
    expect(mail.app.store.mailbox("info@globex.test").messages).toHaveLength(0);
  }, 30_000);

  it("submission: a customer mailbox logs in with its full address and sends as itself only", async () => {
    const sub = ["--server", "127.0.0.1", "--port", String(mail.app.ports.submission), "--tls", "--auth", "PLAIN"];
    const login = ["--auth-user", "info@acme.test", "--auth-password", PASSWORDS["info@acme.test"]];
    const sent = await swaks([...sub, ...login, "--from", "info@acme.test", "--to", "info@globex.test", "--body", "acme-to-globex"]);
    expect(sent.code, sent.out).toBe(0);
    expect(mail.app.store.mailbox("info@globex.test").messages).toHaveLength(1);
    // Not as another customer's mailbox with the same local part, nor as the datacenter's user.
    for (const from of ["info@globex.test", "small@acme.test"]) {
      const forged = await swaks([...sub, ...login, "--from", from, "--to", "info@globex.test"]);
      expect(forged.out, from).toMatch(/<~\* +553 5\.7\.1 .*not owned by user info@acme\.test/);
    }
    expect(mail.app.store.mailbox("info@globex.test").messages).toHaveLength(1);
  }, 30_000);

  it("refuses unknown addresses on customer domains at RCPT with 550, also on a domain without mailboxes", async () => {
    for (const to of ["nobody@acme.test", "info@empty.test", "small@globex.test"]) {
      const r = await swaks([...smtp(), "--to", to]);
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).toMatch(/<\*\* +550 5\.1\.1 .*User unknown/);
    }
  }, 30_000);

  it("lists INBOX and the standard folders with their SPECIAL-USE attributes", async () => {
    const r = await curl([...as("info@globex.test"), imaps()]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split(/\r?\n/).sort();
    expect(lines).toEqual([
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
      '* LIST (\\HasNoChildren) "/" INBOX',
    ]);
    const caps = await curl([...as("info@globex.test"), imaps(), "-X", "CAPABILITY"]);
    expect(caps.out).toMatch(/SPECIAL-USE/);
    expect(caps.out).toMatch(/QUOTA=RES-STORAGE/);
  }, 30_000);

  it("globex's login cannot read acme's mail, whatever mailbox name it asks for", async () => {
    const own = await curl([...as("info@globex.test"), imaps("INBOX"), "-X", "SEARCH BODY acme-marker-1"]);
    expect(own.code, own.err).toBe(0);
    expect(own.out.trim()).toBe("* SEARCH");
    const imap = await Imap.open(mail.app.ports.imaps);
    expect((await imap.command(`LOGIN info@globex.test ${PASSWORDS["info@globex.test"]}`)).at(-1)).toMatch(/^TAG OK/);
    for (const name of ['"../info@acme.test"', '"../../mailboxes/info@acme.test"', '"info@acme.test/INBOX"', '"/INBOX/../../info@acme.test"']) {
      expect((await imap.command(`SELECT ${name}`)).at(-1), name).toBe("TAG NO [NONEXISTENT] No such mailbox");
    }
    expect(await imap.command("SELECT INBOX")).toContain("* 1 EXISTS"); // the one acme sent on submission
    expect(await imap.command("SEARCH BODY acme-marker-1")).toEqual(["* SEARCH", "TAG OK SEARCH completed"]);
    imap.close();
    // And acme's own password is not globex's.
    const wrong = await curl(["--insecure", "--user", `info@globex.test:${PASSWORDS["info@acme.test"]}`, imaps()]);
    expect(wrong.code).not.toBe(0);
  }, 30_000);

  it("CREATE, RENAME and DELETE work inside the account, and names with .., / or NUL cannot leave it", async () => {
    const imap = await Imap.open(mail.app.ports.imaps);
    await imap.command(`LOGIN info@acme.test ${PASSWORDS["info@acme.test"]}`);
    expect(await imap.command('CREATE "Archive/2024"')).toEqual(["TAG OK CREATE completed"]);
    expect(await imap.command('LIST "" "Archive*"')).toEqual([
      '* LIST (\\HasChildren) "/" "Archive"',
      '* LIST (\\HasNoChildren) "/" "Archive/2024"',
      "TAG OK LIST completed",
    ]);
    expect(await imap.command('RENAME "Archive" "Old"')).toEqual(["TAG OK RENAME completed"]);
    expect(await imap.command('LIST "" "*2024"')).toEqual(['* LIST (\\HasNoChildren) "/" "Old/2024"', "TAG OK LIST completed"]);
    expect((await imap.command('DELETE "Old"')).at(-1)).toMatch(/^TAG NO \[INUSE\]/);
    expect(await imap.command('DELETE "Old/2024"')).toEqual(["TAG OK DELETE completed"]);
    expect(await imap.command('DELETE "Old"')).toEqual(["TAG OK DELETE completed"]);
    expect((await imap.command('DELETE "Trash"')).at(-1)).toBe("TAG NO [CANNOT] Trash is a standard folder");
    for (const name of ['".."', '"../escaped"', '"a/../../b"', '"/abs"', '"a//b"', '"."', '"INBOX/x"']) {
      expect((await imap.command(`CREATE ${name}`)).at(-1), name).toMatch(/^TAG NO \[CANNOT\]/);
    }
    // A NUL inside a literal (LITERAL+), where no quoted string can carry it.
    expect((await imap.command("CREATE {6+}\r\nev\0/..")).at(-1)).toMatch(/^TAG NO \[CANNOT\]/);
    expect((await imap.command('RENAME "Sent" "../Sent"')).at(-1)).toMatch(/^TAG NO \[CANNOT\]/);
    // A flood of folders stops at the cap (RFC 5530 LIMIT); the standard three count too.
    const created: string[] = [];
    for (let i = 0; i < MAX_FOLDERS; i++) created.push((await imap.command(`CREATE "many/${i}"`)).at(-1)!);
    expect(created.filter((r) => r === "TAG OK CREATE completed")).toHaveLength(MAX_FOLDERS - 4); // Sent, Drafts, Trash and "many"
    expect(created.at(-1)).toBe(`TAG NO [LIMIT] At most ${MAX_FOLDERS} folders per mailbox`);
    for (let i = 0; i < MAX_FOLDERS - 4; i++) await imap.command(`DELETE "many/${i}"`);
    expect(await imap.command('DELETE "many"')).toEqual(["TAG OK DELETE completed"]);
    imap.close();
    // On disk: the two customer accounts and the datacenter's users, nothing else; and the
    // account's folders are the standard ones, hex-named.
    const root = join(mail.dataDir, "mailboxes");
    expect(readdirSync(root).sort()).toEqual(["alice", "bob", "info@acme.test", "info@globex.test", "postmaster", "small@acme.test"]);
    const folders = readdirSync(join(root, "info@acme.test", "folders")).map((h) => Buffer.from(h, "hex").toString());
    expect(folders.sort()).toEqual(["Drafts", "Sent", "Trash"]);
  }, 120_000);

  it("over quota: 452 4.2.2 when full, 552 5.2.2 for a message larger than the quota, nothing stored partly", async () => {
    const small = mail.app.store.mailbox("small@acme.test");
    const first = await swaks([...smtp(), "--to", "small@acme.test", "--body", body(2500)]);
    expect(first.code, first.out).toBe(0);
    expect(small.messages).toHaveLength(1);
    // Fits no more: refused after DATA with the transient code; the other recipient gets nothing either.
    const before = mail.app.store.mailbox("info@acme.test").messages.length;
    const second = await swaks([...smtp(), "--to", "small@acme.test,info@acme.test", "--body", body(2500)]);
    expect(second.out).toMatch(/<\*\* +452 4\.2\.2 .*Mailbox full/);
    expect(small.messages).toHaveLength(1);
    expect(mail.app.store.mailbox("info@acme.test").messages).toHaveLength(before);
    const huge = await swaks([...smtp(), "--to", "small@acme.test", "--body", body(SMALL_QUOTA + 100)]);
    expect(huge.out).toMatch(/<\*\* +552 5\.2\.2 /);
    expect(readdirSync(join(mail.dataDir, "mailboxes", "small@acme.test", "tmp"))).toEqual([]);
    expect(readdirSync(join(mail.dataDir, "mailboxes", "small@acme.test", "msg"))).toHaveLength(1);
    // The quota as IMAP reports it (RFC 9208): KiB used and the limit.
    const quota = await curl([...as("small@acme.test"), imaps(), "-X", "GETQUOTAROOT INBOX"]);
    expect(quota.out).toContain(`* QUOTA "" (STORAGE ${Math.ceil(small.quota.used / 1024)} 4)`);
  }, 60_000);

  it("IMAP APPEND over quota answers NO [OVERQUOTA]; MOVE to Trash still works when full; after expunging, mail fits again", async () => {
    const imap = await Imap.open(mail.app.ports.imaps);
    await imap.command(`LOGIN small@acme.test ${PASSWORDS["small@acme.test"]}`);
    const m = `Subject: big\r\n\r\n${body(2000)}\r\n`;
    expect(await imap.command(`APPEND Drafts {${m.length}+}\r\n${m}`)).toEqual(["TAG NO [OVERQUOTA] Mailbox is full"]);
    expect(await imap.command('STATUS "Drafts" (MESSAGES)')).toEqual(['* STATUS "Drafts" (MESSAGES 0)', "TAG OK STATUS completed"]);
    await imap.command("SELECT INBOX");
    expect((await imap.command("COPY 1 Trash")).at(-1)).toBe("TAG NO [OVERQUOTA] Mailbox is full");
    expect((await imap.command("MOVE 1 Trash")).at(-1)).toMatch(/^TAG OK \[COPYUID /);
    await imap.command("SELECT Trash");
    await imap.command("STORE 1 +FLAGS.SILENT (\\Deleted)");
    expect(await imap.command("EXPUNGE")).toEqual(["* 1 EXPUNGE", "TAG OK EXPUNGE completed"]);
    imap.close();
    const again = await swaks([...smtp(), "--to", "small@acme.test", "--body", body(2500)]);
    expect(again.code, again.out).toBe(0);
  }, 60_000);

  it("DELETE gives a folder's bytes back to the quota once, also while another session has it selected", async () => {
    const quota = mail.app.store.account("info@acme.test").quota;
    const [a, b] = [await Imap.open(mail.app.ports.imaps), await Imap.open(mail.app.ports.imaps)];
    for (const c of [a, b]) await c.command(`LOGIN info@acme.test ${PASSWORDS["info@acme.test"]}`);
    expect(await a.command('CREATE "Keep"')).toEqual(["TAG OK CREATE completed"]);
    const before = quota.used;
    const m = "Subject: kept\r\n\r\nkept\r\n";
    expect((await a.command(`APPEND Keep {${m.length}+}\r\n${m}`)).at(-1)).toMatch(/^TAG OK \[APPENDUID /);
    expect(quota.used).toBe(before + m.length);
    expect(await a.command("SELECT Keep")).toContain("* 1 EXISTS");
    expect(await b.command('DELETE "Keep"')).toEqual(["TAG OK DELETE completed"]);
    expect(quota.used).toBe(before);
    expect(await a.command("NOOP")).toEqual(["* 1 EXPUNGE", "TAG OK NOOP completed"]);
    expect((await a.command("EXPUNGE")).at(-1)).toBe("TAG OK EXPUNGE completed");
    expect(quota.used).toBe(before);
    for (const c of [a, b]) c.close();
  }, 30_000);
});
