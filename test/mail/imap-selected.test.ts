/**
 * The IMAP selected state over TLS, command by command (images/mail/src/imap/selected.ts):
 * SELECT/EXAMINE, COPY and MOVE with COPYUID, the read-only refusals, CLOSE's silent
 * expunge, `UID FETCH n:*`, and the EXISTS/EXPUNGE updates another session sees in IDLE.
 * Real clients (curl in mail.test.ts) use only a few of these; here every reply is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Imap } from "./imapClient";
import { haveTools, PASSWORDS, startTestMail, type TestMail } from "./support";

const message = (subject: string) => `From: bob@fra1.park.test\r\nTo: alice@fra1.park.test\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n`;
const append = (imap: Imap, subject: string) => {
  const m = message(subject);
  return imap.command(`APPEND INBOX {${Buffer.byteLength(m)}+}\r\n${m}`);
};

describe.skipIf(!haveTools("openssl"))("IMAP selected state", () => {
  let mail: TestMail;
  let a: Imap;
  let b: Imap;

  beforeAll(async () => {
    mail = await startTestMail();
    a = await Imap.open(mail.app.ports.imaps);
    b = await Imap.open(mail.app.ports.imaps);
    for (const s of [a, b]) expect((await s.command(`LOGIN alice ${PASSWORDS.alice}`)).at(-1)).toMatch(/^TAG OK /);
  }, 30_000);

  afterAll(async () => {
    a?.close();
    b?.close();
    await mail?.app.close();
  });

  it("refuses selected-state commands before SELECT", async () => {
    expect(await a.command("FETCH 1 FLAGS")).toEqual(["TAG BAD FETCH needs a selected mailbox"]);
    expect(await a.command("CLOSE")).toEqual(["TAG BAD CLOSE needs a selected mailbox"]);
  });

  it("SELECT names the messages; UID FETCH n:* gives the last one even above every UID", async () => {
    for (const subject of ["one", "two"]) expect((await append(a, subject)).at(-1)).toMatch(/^TAG OK \[APPENDUID \d+ \d+\] APPEND completed$/);
    const select = await a.command("SELECT INBOX");
    expect(select).toContain("* 2 EXISTS");
    expect(select.at(-1)).toBe("TAG OK [READ-WRITE] SELECT completed");
    const fetch = await a.command("UID FETCH 999:* (FLAGS)");
    expect(fetch).toHaveLength(2);
    expect(fetch[0]).toMatch(/^\* 2 FETCH \(UID \d+ FLAGS \(\)\)$/);
    expect(fetch[1]).toBe("TAG OK UID FETCH completed");
  });

  it("tells an idling session about new and expunged messages", async () => {
    expect((await b.command("SELECT INBOX")).at(-1)).toBe("TAG OK [READ-WRITE] SELECT completed");
    const idling = b.read((l) => l === "+ idling");
    const idle = b.command("IDLE");
    await idling;
    const exists = b.read((l) => l === "* 3 EXISTS");
    expect((await append(a, "three")).at(-1)).toMatch(/^TAG OK /);
    await exists;
    const expunged = b.read((l) => l === "* 1 EXPUNGE");
    // MOVE copies message 1 (a new UID at the end) and expunges the original.
    const move = await a.command("MOVE 1 INBOX");
    expect(move.at(-1)).toMatch(/^TAG OK \[COPYUID \d+ (\d+) (\d+)\] MOVE completed$/);
    expect(move).toContain("* 1 EXPUNGE");
    await expunged;
    b.write("DONE\r\n");
    expect((await idle).at(-1)).toBe("TAG OK IDLE terminated");
  });

  it("COPY adds a message the session sees at its next NOOP", async () => {
    const copy = await a.command("COPY 1 INBOX");
    expect(copy).toEqual([expect.stringMatching(/^TAG OK \[COPYUID \d+ \d+ \d+\] COPY completed$/)]);
    expect(await a.command("NOOP")).toEqual(["* 4 EXISTS", "TAG OK NOOP completed"]);
    const search = await a.command("SEARCH SUBJECT two");
    expect(search).toEqual(["* SEARCH 1 4", "TAG OK SEARCH completed"]);
  });

  it("EXAMINE is read-only: STORE and EXPUNGE are refused, FETCH of a body does not set \\Seen", async () => {
    expect((await a.command("EXAMINE INBOX")).at(-1)).toBe("TAG OK [READ-ONLY] EXAMINE completed");
    expect(await a.command("STORE 1 +FLAGS (\\Deleted)")).toEqual(["TAG NO Mailbox is read-only"]);
    expect(await a.command("EXPUNGE")).toEqual(["TAG NO Mailbox is read-only"]);
    const fetch = await a.command("FETCH 1 (BODY[TEXT])");
    expect(fetch.at(-1)).toBe("TAG OK FETCH completed");
    expect(await a.command("FETCH 1 (FLAGS)")).toEqual(["* 1 FETCH (FLAGS ())", "TAG OK FETCH completed"]);
  });

  it("CLOSE expunges \\Deleted messages without EXPUNGE responses, and leaves the selected state", async () => {
    expect((await a.command("SELECT INBOX")).at(-1)).toBe("TAG OK [READ-WRITE] SELECT completed");
    expect(await a.command("STORE 1:2 +FLAGS.SILENT (\\Deleted)")).toEqual(["TAG OK STORE completed"]);
    expect(await a.command("CLOSE")).toEqual(["TAG OK CLOSE completed"]);
    expect(await a.command("FETCH 1 FLAGS")).toEqual(["TAG BAD FETCH needs a selected mailbox"]);
    expect(await a.command("SELECT INBOX")).toContain("* 2 EXISTS");
    expect(await a.command("SEARCH ALL")).toEqual(["* SEARCH 1 2", "TAG OK SEARCH completed"]);
  });
});
