/**
 * Mail backups: a message delivered with swaks is in the next backup; the restore procedure
 * (stop the server, put a backup's folders back into the data volume, start it) brings the
 * mailbox back, and curl reads the message over IMAPS from the restored server. The live
 * restore (images/mail/src/restore.ts, what `POST /backups/restore` runs) puts a backup's
 * messages back into a running server's folders with their flags, and a second restore adds
 * nothing.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { restoreMailBackup } from "../../images/mail/src/restore";
import { Imap } from "./imapClient";
import { curl, DOMAIN, haveTools, PASSWORDS, startTestMail, swaks, type TestMail } from "./support";

const enabled = haveTools("swaks", "curl", "openssl");

describe.skipIf(!enabled)("mail backups", () => {
  let mail: TestMail | undefined;
  /** swaks delivers `marker` to `to` on port 25. */
  const deliver = async (to: string, marker: string) => {
    const r = await swaks(["--server", "127.0.0.1", "--port", String(mail!.app.ports.smtp), "--from", "a@example.org", "--to", to, "--body", marker]);
    expect(r.code, r.out).toBe(0);
  };
  afterEach(async () => {
    await mail?.app.close();
    mail = undefined;
  });

  it("a delivered message is in the next backup and comes back with a restore", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sp-mail-bk-"));
    mail = await startTestMail({}, dataDir);
    const marker = `backup-marker-${Date.now()}`;
    await deliver(`alice@${DOMAIN}`, marker);

    const { name, files } = await mail.app.backups.run();
    expect(files).toBeGreaterThanOrEqual(2); // the message and the mailbox state
    const backupDir = join(dataDir, "backups", name);
    const msgDir = join(backupDir, "mailboxes", "alice", "msg");
    const copies = readdirSync(msgDir).map((f) => readFileSync(join(msgDir, f), "utf8"));
    expect(copies.some((c) => c.includes(marker))).toBe(true);
    expect(existsSync(join(backupDir, "mailboxes", "alice", "tmp"))).toBe(false);
    expect((await mail.app.backups.list()).map((b) => b.name)).toEqual([name]);

    // Disaster: the mailboxes are gone. Restore = stop, copy the backup back, start.
    await mail.app.close();
    mail = undefined;
    rmSync(join(dataDir, "mailboxes"), { recursive: true, force: true });
    cpSync(join(backupDir, "mailboxes"), join(dataDir, "mailboxes"), { recursive: true });
    mail = await startTestMail({}, dataDir);
    const uid = mail.app.store.mailbox("alice").messages.at(-1)?.uid;
    expect(uid).toBeDefined();
    const read = await curl(["--insecure", "--user", `alice:${PASSWORDS.alice}`, `imaps://127.0.0.1:${mail.app.ports.imaps}/INBOX;UID=${uid}`]);
    expect(read.code, read.err).toBe(0);
    expect(read.out).toContain(marker);
  });

  it("restores a backup into a running server: folders and flags come back, and repeating it duplicates nothing", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sp-mail-bk-live-"));
    mail = await startTestMail({}, dataDir);
    const marker = `live-restore-${Date.now()}`;
    await deliver(`bob@${DOMAIN}`, marker);
    const imap = await Imap.open(mail.app.ports.imaps);
    await imap.command(`LOGIN bob ${PASSWORDS.bob}`);
    expect(await imap.command('CREATE "Projects"')).toEqual(["TAG OK CREATE completed"]);
    await imap.command("SELECT INBOX");
    expect((await imap.command("COPY 1 Projects")).at(-1)).toMatch(/^TAG OK/);
    await imap.command("STORE 1 +FLAGS.SILENT (\\Flagged)");
    imap.close();
    const { name } = await mail.app.backups.run();
    const backupDir = join(dataDir, "backups", name);

    // Disaster on a running server: a new, empty data volume.
    await mail.app.close();
    rmSync(join(dataDir, "mailboxes"), { recursive: true, force: true });
    mail = await startTestMail({}, dataDir);
    expect(mail.app.store.mailbox("bob").messages).toHaveLength(0);
    expect(await restoreMailBackup(backupDir, mail.app.store, "bob")).toEqual({ restored: 2, present: 0, unknownUsers: [] });
    expect(await restoreMailBackup(backupDir, mail.app.store)).toEqual({ restored: 0, present: 2, unknownUsers: [] });

    const check = await Imap.open(mail.app.ports.imaps);
    await check.command(`LOGIN bob ${PASSWORDS.bob}`);
    expect(await check.command('STATUS "Projects" (MESSAGES)')).toEqual(['* STATUS "Projects" (MESSAGES 1)', "TAG OK STATUS completed"]);
    await check.command("SELECT INBOX");
    expect(await check.command("FETCH 1 (FLAGS)")).toEqual(["* 1 FETCH (FLAGS (\\Flagged))", "TAG OK FETCH completed"]);
    check.close();
    const uid = mail.app.store.mailbox("bob").messages[0]!.uid;
    const read = await curl(["--insecure", "--user", `bob:${PASSWORDS.bob}`, `imaps://127.0.0.1:${mail.app.ports.imaps}/INBOX;UID=${uid}`]);
    expect(read.out).toContain(marker);
  });
});
