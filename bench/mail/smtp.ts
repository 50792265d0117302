/**
 * SMTP benchmark: messages per second accepted and stored by our mail role and by Postfix,
 * both loaded with Postfix's smtp-source over loopback, side by side with the ratios.
 *
 * Ours answers 250 only after the message is fsynced into the mailbox, so "accepted" and
 * "stored" are the same moment. Postfix answers 250 once cleanup(8) has fsynced the queue
 * file (durable, but not yet in a mailbox); its virtual(8) agent then delivers to a Maildir.
 * So two Postfix figures are printed: 250s per second (durably queued) and messages per
 * second until the last one is in the Maildir (accepted AND stored, what ours does before
 * its 250). The second is the like-for-like one.
 *
 * Postfix runs as a throw-away instance: main.cf and master.cf (Debian's, with the smtp
 * service moved to 127.0.0.1:47525 and nothing chrooted) in a temporary folder, started with
 * `postfix -c <dir> start`. Why it "exited 1 silently" before: Postfix logs to syslog, and
 * there is none here; with maillog_file set it said `maillog_file value '/dev/null' does not
 * match any prefix in maillog_file_prefixes`; then the queue directory did not exist, then
 * master could not open its lock file because the mkdtemp folder (mode 700) is not
 * traversable by the postfix user. All three are handled below; on failure the maillog is
 * printed.
 *
 * Usage (root, postfix installed): npx tsx bench/mail/smtp.ts [messages=2000] [sessions=8] [size=4096]
 */
import { execFile } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { DOMAIN, startTestMail } from "../../test/mail/support";
import { recordResult } from "../summary";

const run = promisify(execFile);
const messages = Number(process.argv[2] ?? 2000);
const sessions = Number(process.argv[3] ?? 8);
const size = Number(process.argv[4] ?? 4096);
const POSTFIX_PORT = 47525;

function requireTools(): void {
  const tools: ReadonlyArray<readonly [string, string]> = [
    ["postfix", "/usr/sbin/postfix"],
    ["smtp-source", "/usr/sbin/smtp-source"],
  ];
  for (const [tool, path] of tools) {
    if (!existsSync(path)) {
      console.error(`missing ${tool} (${path}): apt-get install postfix (the bench needs its smtp-source as the load too)`);
      process.exit(2);
    }
  }
  if (userInfo().uid !== 0) {
    console.error("the Postfix side needs root (postfix start drops privileges to the postfix user)");
    process.exit(2);
  }
}

/** Seconds for smtp-source to get `messages` 250s over `sessions` reused sessions. */
async function load(port: number, to: string): Promise<number> {
  const started = performance.now();
  // -d keeps each session open for the next message (our server, like Postfix, delays its greeting).
  await run(
    "/usr/sbin/smtp-source",
    ["-d", "-s", String(sessions), "-m", String(messages), "-l", String(size), "-f", "load@example.org", "-t", to, `127.0.0.1:${port}`],
    { timeout: 600_000 },
  );
  return (performance.now() - started) / 1000;
}

async function ours(): Promise<number> {
  const mail = await startTestMail({ maxMessageBytes: 1024 * 1024 });
  try {
    const seconds = await load(mail.app.ports.smtp, `alice@${DOMAIN}`);
    const stored = mail.app.store.mailbox("alice").messages.length;
    if (stored !== messages) throw new Error(`ours stored ${stored} of ${messages}`);
    return messages / seconds;
  } finally {
    await mail.app.close();
    rmSync(mail.dataDir, { recursive: true, force: true });
    rmSync(dirname(mail.cert), { recursive: true, force: true });
  }
}

function countFiles(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}

async function postfix(): Promise<{ queued: number; stored: number; drainSeconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-postfix-"));
  // The postfix user must reach the queue and data folders below it.
  chmodSync(dir, 0o755);
  const conf = join(dir, "etc");
  const mail = join(dir, "mail");
  const data = join(dir, "data");
  const maillog = join(dir, "maillog");
  for (const d of [conf, mail, data, join(dir, "spool")]) mkdirSync(d);
  const postfixUser = Number((await run("id", ["-u", "postfix"])).stdout.trim());
  chownSync(data, postfixUser, -1);
  // Maildir owner: a plain numeric uid/gid (virtual(8) needs no account for it).
  chownSync(mail, 1000, 1000);
  copyFileSync("/etc/postfix/master.cf", join(conf, "master.cf"));
  writeFileSync(
    join(conf, "main.cf"),
    [
      `queue_directory = ${join(dir, "spool")}`,
      `data_directory = ${data}`,
      "mail_owner = postfix",
      "setgid_group = postdrop",
      "compatibility_level = 3.6",
      "inet_interfaces = 127.0.0.1",
      "inet_protocols = ipv4",
      "myhostname = bench.postfix.test",
      "mydestination =",
      "local_recipient_maps =",
      "relay_domains =",
      "mynetworks = 127.0.0.0/8",
      "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
      // Delivery like ours: every message into one mailbox, a Maildir ("box/"), by virtual(8).
      "virtual_mailbox_domains = bench.test",
      `virtual_mailbox_base = ${mail}`,
      "virtual_mailbox_maps = static:box/",
      "virtual_uid_maps = static:1000",
      "virtual_gid_maps = static:1000",
      "virtual_mailbox_limit = 0",
      "message_size_limit = 1048576",
      // No syslog here: Postfix's own logger (postlogd) writes this file.
      `maillog_file = ${maillog}`,
      `maillog_file_prefixes = ${dir}`,
      "smtpd_banner = $myhostname ESMTP",
      "biff = no",
    ].join("\n") + "\n",
  );
  // Only the smtpd on our port, and no chroot (the Debian master.cf chroots smtpd, which
  // would need copies of /etc files inside the queue folder).
  const masterCf = readFileSync(join(conf, "master.cf"), "utf8").replace(/^smtp(\s+)inet/m, `127.0.0.1:${POSTFIX_PORT}$1inet`);
  writeFileSync(join(conf, "master.cf"), masterCf);
  await run("/usr/sbin/postconf", ["-c", conf, "-F", "*/*/chroot = n"]);
  const explain = (what: string, error: unknown) =>
    new Error(
      `${what} failed: ${(error as Error).message.split("\n")[0]}\n${existsSync(maillog) ? readFileSync(maillog, "utf8").split("\n").slice(-15).join("\n") : "(no maillog)"}`,
    );
  await run("/usr/sbin/postfix", ["-c", conf, "check"], { timeout: 60_000 }).catch((e: unknown) => {
    throw explain("postfix check", e);
  });
  await run("/usr/sbin/postfix", ["-c", conf, "start"], { timeout: 60_000 }).catch((e: unknown) => {
    throw explain("postfix start", e);
  });
  try {
    await waitSmtp(POSTFIX_PORT);
    const started = performance.now();
    const seconds = await load(POSTFIX_PORT, "user@bench.test");
    const box = join(mail, "box", "new");
    const deadline = Date.now() + 120_000;
    while (countFiles(box) < messages && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const total = (performance.now() - started) / 1000;
    const stored = countFiles(box);
    if (stored !== messages) throw explain(`postfix delivered ${stored} of ${messages} to the Maildir within 120 s;`, new Error(""));
    return { queued: messages / seconds, stored: messages / total, drainSeconds: total - seconds };
  } finally {
    await run("/usr/sbin/postfix", ["-c", conf, "stop"], { timeout: 60_000 }).catch(() => undefined);
    // postfix stop returns before master has exited; give it a moment before removing its files.
    await new Promise((r) => setTimeout(r, 1000));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until the port answers with an SMTP greeting. */
async function waitSmtp(port: number): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("data", (d) => (s.destroy(), resolve(d.toString().startsWith("220"))));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no SMTP greeting on 127.0.0.1:${port}`);
}

async function main(): Promise<void> {
  requireTools();
  console.log(`smtp-source, ${messages} messages of ${size} bytes over ${sessions} sessions`);
  const a = await ours();
  const b = await postfix();
  const r = (x: number) => x.toFixed(0).padStart(6);
  console.log(`| msg/s                                   | ours   | postfix | ours/postfix |`);
  console.log(`|-----------------------------------------|-------:|--------:|-------------:|`);
  console.log(`| accepted and stored (in the mailbox)    | ${r(a)} | ${r(b.stored).padStart(7)} | ${(a / b.stored).toFixed(2).padStart(12)} |`);
  console.log(`| 250 answered (postfix: durably queued)  | ${r(a)} | ${r(b.queued).padStart(7)} | ${(a / b.queued).toFixed(2).padStart(12)} |`);
  recordResult({ bench: "mail", figure: "SMTP messages accepted and stored, ours ÷ Postfix msg/s", value: a / b.stored, unit: "×" });
  console.log(`postfix: the last message reached the Maildir ${b.drainSeconds.toFixed(2)} s after the last 250`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
