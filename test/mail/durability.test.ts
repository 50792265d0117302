/**
 * The heart of the mail role: nothing acknowledged with 250 is ever lost. The real server
 * process (main.ts) takes a burst of deliveries over 8 connections, is killed with SIGKILL
 * in the middle of it, and is started again: every acknowledged message must be in the
 * mailbox byte for byte, no half-written message may be visible, and IMAP must serve them.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { curl, DOMAIN, haveTools, PASSWORDS } from "./support";
import { RawSmtp } from "./rawSmtp";
import { freePorts, startMailProcess, type MailProcess } from "./process";

const enabled = haveTools("curl", "openssl");

const checksum = (s: string) => createHash("sha256").update(s).digest("hex");

describe.skipIf(!enabled)("mail durability under kill -9", () => {
  let server: MailProcess | undefined;
  afterAll(() => server?.kill());

  it("keeps every 250-acknowledged message intact across a SIGKILL during a burst", async () => {
    const PORTS = await freePorts();
    server = await startMailProcess(PORTS);

    const acked = new Map<string, string>(); // id -> checksum of the body we sent
    let sent = 0;
    let stop = false;
    const worker = async (w: number) => {
      const client = await RawSmtp.open(PORTS.smtp);
      for (let i = 0; !stop && i < 10_000; i++) {
        const id = `m-${w}-${i}`;
        const body = `Subject: ${id}\r\nMessage-ID: <${id}@load.test>\r\n\r\n${randomBytes(200 + ((w * 977 + i * 131) % 12_000)).toString("base64")}\r\nEND-${id}`;
        sent++;
        const reply = await client.send("load@example.org", `alice@${DOMAIN}`, body);
        if (reply.startsWith("250")) acked.set(id, checksum(body));
        else break; // "closed": the server died under us
      }
      client.close();
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    // Kill once a fair number of messages went through, in the middle of the stream.
    for (let i = 0; i < 200 && acked.size < 150; i++) await new Promise((r) => setTimeout(r, 25));
    await server.kill();
    stop = true;
    await Promise.all(workers);
    expect(acked.size).toBeGreaterThan(20);
    expect(sent).toBeGreaterThan(acked.size); // some were in flight when it died

    server = await server.restart();
    const dir = server.dir;
    const msgDir = join(dir, "data", "mailboxes", "alice", "msg");
    const stored = new Map<string, string>();
    for (const name of readdirSync(msgDir)) {
      const text = readFileSync(join(msgDir, name), "latin1");
      const start = text.indexOf("Subject: m-");
      const id = /^Subject: (m-\d+-\d+)/m.exec(text)?.[1];
      expect(id, `message ${name} has no id`).toBeDefined();
      // Complete: the stored file ends with the end marker the client sent last.
      expect(text.trimEnd().endsWith(`END-${id}`), `message ${name} is truncated`).toBe(true);
      stored.set(id!, checksum(text.slice(start).replace(/\r\n$/, "")));
    }
    for (const [id, sum] of acked) expect(stored.get(id), `acknowledged ${id} lost or changed`).toBe(sum);
    expect(readdirSync(join(dir, "data", "mailboxes", "alice", "tmp"))).toEqual([]);

    const viaImap = await curl(["--insecure", "--user", `alice:${PASSWORDS.alice}`, "-X", "STATUS INBOX (MESSAGES)", `imaps://127.0.0.1:${PORTS.imaps}/`]);
    expect(viaImap.out).toContain(`MESSAGES ${stored.size}`);
    console.log(`kill -9 test: ${sent} sent, ${acked.size} acknowledged, ${stored.size} stored after restart`);
  }, 90_000);
});
