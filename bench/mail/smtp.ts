/**
 * SMTP benchmark: messages per second accepted and stored (fsynced) by our mail role and
 * by Postfix (virtual maildir delivery), both loaded with Postfix's smtp-source over
 * loopback, side by side with the ratio. Postfix runs as a throw-away instance whose config
 * lives in a temporary folder (`postfix -c`), listening on 127.0.0.1:47525.
 *
 * Usage (root, postfix installed): npx tsx bench/mail/smtp.ts [messages=2000] [sessions=8] [size=4096]
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync, copyFileSync, chownSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DOMAIN, startTestMail } from "../../test/mail/support";

const run = promisify(execFile);
const messages = Number(process.argv[2] ?? 2000);
const sessions = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 4096);

async function load(port: number, to: string): Promise<number> {
  const started = performance.now();
  // -d keeps each session open for the next message (our server, like Postfix, delays its greeting).
  await run(
    "smtp-source",
    ["-d", "-s", String(sessions), "-m", String(messages), "-l", String(size), "-f", "load@example.org", "-t", to, `127.0.0.1:${port}`],
    { timeout: 600_000 },
  );
  return messages / ((performance.now() - started) / 1000);
}

async function ours(): Promise<number> {
  const mail = await startTestMail({ maxMessageBytes: 1024 * 1024 });
  try {
    const rate = await load(mail.app.ports.smtp, `alice@${DOMAIN}`);
    const stored = mail.app.store.mailbox("alice").messages.length;
    if (stored !== messages) throw new Error(`ours stored ${stored} of ${messages}`);
    return rate;
  } finally {
    await mail.app.close();
  }
}

async function postfix(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-postfix-"));
  const conf = join(dir, "etc");
  const mail = join(dir, "mail");
  mkdirSync(conf);
  mkdirSync(mail);
  chownSync(mail, 1000, 1000);
  copyFileSync("/etc/postfix/master.cf", join(conf, "master.cf"));
  writeFileSync(
    join(conf, "main.cf"),
    [
      `queue_directory = ${join(dir, "spool")}`,
      `data_directory = ${join(dir, "data")}`,
      "compatibility_level = 3.6",
      "inet_interfaces = 127.0.0.1",
      "inet_protocols = ipv4",
      "mydestination =",
      "myhostname = bench.postfix.test",
      "virtual_mailbox_domains = bench.test",
      `virtual_mailbox_base = ${mail}`,
      "virtual_mailbox_maps = static:box/",
      "virtual_uid_maps = static:1000",
      "virtual_gid_maps = static:1000",
      "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
      "mynetworks = 127.0.0.0/8",
      "maillog_file = /dev/null",
      "smtpd_banner = $myhostname ESMTP",
      "default_process_limit = 100",
    ].join("\n") + "\n",
  );
  // Only the smtpd on our port: rewrite the "smtp inet" line of master.cf.
  await run("sed", ["-i", "s/^smtp      inet/127.0.0.1:47525 inet/", join(conf, "master.cf")]);
  await run("postfix", ["-c", conf, "start"], { timeout: 60_000 });
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const rate = await load(47525, "user@bench.test");
    // Postfix acknowledges after queueing (fsynced); wait for the maildir deliveries too.
    const box = join(mail, "box", "new");
    const started = performance.now();
    for (let i = 0; i < 600; i++) {
      const n = (() => {
        try {
          return readdirSync(box).length;
        } catch {
          return 0;
        }
      })();
      if (n >= messages) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`postfix: all ${messages} in the maildir ${((performance.now() - started) / 1000).toFixed(1)} s after the last 250`);
    return rate;
  } finally {
    await run("postfix", ["-c", conf, "stop"], { timeout: 60_000 }).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const a = await ours();
  console.log(`smtp-source, ${messages} messages of ${size} bytes over ${sessions} sessions`);
  const b = await postfix().catch((error: unknown) => {
    console.log(`postfix side not measured: \`postfix -c <dir> start\` failed (${(error as Error).message.split("\n")[0]})`);
    return NaN;
  });
  console.log(`accepted+stored msg/s   ours ${a.toFixed(0).padStart(6)}   postfix ${b.toFixed(0).padStart(6)}   ratio ${(a / b).toFixed(2)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
