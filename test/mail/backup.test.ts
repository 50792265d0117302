/**
 * Mail backups: a message delivered with swaks is in the next backup; the restore procedure
 * (stop the server, put a backup's folders back into the data volume, start it) brings the
 * mailbox back, and curl reads the message over IMAPS from the restored server.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { curl, DOMAIN, haveTools, PASSWORDS, startTestMail, swaks, type TestMail } from "./support";

const enabled = haveTools("swaks", "curl", "openssl");

describe.skipIf(!enabled)("mail backups", () => {
  let mail: TestMail | undefined;
  afterEach(async () => {
    await mail?.app.close();
    mail = undefined;
  });

  it("a delivered message is in the next backup and comes back with a restore", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sp-mail-bk-"));
    mail = await startTestMail({}, dataDir);
    const marker = `backup-marker-${Date.now()}`;
    const r = await swaks([
      "--server",
      "127.0.0.1",
      "--port",
      String(mail.app.ports.smtp),
      "--from",
      "a@example.org",
      "--to",
      `alice@${DOMAIN}`,
      "--body",
      marker,
    ]);
    expect(r.code, r.out).toBe(0);

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
});
