/**
 * The heart of the mail role: nothing acknowledged with 250 is ever lost. The real server
 * process (main.ts) takes a burst of deliveries over 8 connections, is killed with SIGKILL
 * in the middle of it, and is started again: every acknowledged message must be in the
 * mailbox byte for byte, no half-written message may be visible, and IMAP must serve them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { credentials, curl, DOMAIN, haveTools, makeCert, PASSWORDS } from "./support";
import { RawSmtp } from "./rawSmtp";
import { STANDALONE_CONFIG } from "../../images/runtime/replica";

const enabled = haveTools("curl", "openssl");
const PORTS = { smtp: 47125, submission: 47187, imaps: 47193, pop3s: 47195, mgmt: 47100 };

async function startServer(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "images/mail/src/main.ts"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 150; i++) {
    const ok = await fetch(`http://127.0.0.1:${PORTS.mgmt}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return child;
    if (child.exitCode !== null) throw new Error(`mail exited with ${child.exitCode}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`mail did not become healthy in 15 s: ${stderr}`);
}

const checksum = (s: string) => createHash("sha256").update(s).digest("hex");

describe.skipIf(!enabled)("mail durability under kill -9", () => {
  let child: ChildProcess | undefined;
  afterAll(() => void child?.kill("SIGKILL"));

  it("keeps every 250-acknowledged message intact across a SIGKILL during a burst", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-mail-kill-"));
    const { cert, key } = await makeCert();
    writeFileSync(join(dir, "users.json"), JSON.stringify({ users: credentials() }));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...STANDALONE_CONFIG, domain: DOMAIN, service: "mail", settings: { users: ["alice", "bob"] } }));
    const env = {
      SP_CONFIG: join(dir, "config.json"),
      SP_MAIL_CREDENTIALS: join(dir, "users.json"),
      SP_MAIL_DATA: join(dir, "data"),
      SP_TLS_CERT: cert,
      SP_TLS_KEY: key,
      SP_LISTEN: "127.0.0.1",
      SP_MGMT_ADDRESS: "127.0.0.2" /* the runtime adds 127.0.0.1 itself */,
      SP_LOG_LEVEL: "warn",
      SP_MGMT_PORT: String(PORTS.mgmt),
      SP_MAIL_SMTP_PORT: String(PORTS.smtp),
      SP_MAIL_SUBMISSION_PORT: String(PORTS.submission),
      SP_MAIL_IMAPS_PORT: String(PORTS.imaps),
      SP_MAIL_POP3S_PORT: String(PORTS.pop3s),
    };
    child = await startServer(env);

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
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    stop = true;
    await Promise.all(workers);
    expect(acked.size).toBeGreaterThan(20);
    expect(sent).toBeGreaterThan(acked.size); // some were in flight when it died

    child = await startServer(env);
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
