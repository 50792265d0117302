/**
 * The durable outbound queue: mail from authenticated users to other domains is stored
 * here before 250 is answered, then relayed to the smarthost with exponential back-off.
 * A message the smarthost refuses permanently (5xx), or that is still undelivered after
 * `giveUpAfterMs`, is bounced: a delivery-status message goes to the sender's mailbox.
 *
 *   <dir>/<id>.eml   the message, written and fsynced first
 *   <dir>/<id>.json  envelope + attempts; its appearance (atomic rename) commits the entry,
 *                    so an .eml without .json is a crash leftover and is removed at start.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { createTransport, type Transporter } from "nodemailer";
import type { Logger } from "../../runtime/log";
import type { MailSettings } from "../../../contracts/settings/mail";
import { fsyncDir, replaceFileDurably, writeSynced } from "./durable";

export interface QueueEntry {
  readonly id: string;
  readonly from: string;
  readonly to: string[];
  readonly createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError?: string;
}

export interface QueueOptions {
  readonly dir: string;
  readonly settings: MailSettings;
  readonly log: Logger;
  readonly hostname: string;
  /** PEM CA bundle trusted for the smarthost's STARTTLS certificate (the datacenter CA). */
  readonly ca?: Buffer;
  /** Where bounces go: delivers a DSN to a local sender's mailbox, if the sender is local. */
  readonly bounceToLocal: (from: string, dsn: Buffer) => Promise<boolean>;
  readonly now?: () => number;
  /** How often due entries are looked for. @default 1000 */
  readonly tickMs?: number;
}

export class OutboundQueue {
  private readonly entries = new Map<string, QueueEntry>();
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private transport: Transporter | undefined;
  private readonly now: () => number;

  constructor(private readonly options: QueueOptions) {
    this.now = options.now ?? Date.now;
    const smarthost = options.settings.smarthost;
    if (smarthost) {
      this.transport = createTransport({
        host: smarthost.host,
        port: smarthost.port,
        secure: smarthost.secure,
        name: options.hostname,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 30_000,
        ...(options.ca ? { tls: { ca: options.ca } } : {}),
      });
    }
  }

  get size(): number {
    return this.entries.size;
  }

  list(): QueueEntry[] {
    return [...this.entries.values()];
  }

  async open(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    const names = await readdir(this.options.dir);
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      const entry = JSON.parse(await readFile(join(this.options.dir, name), "utf8")) as QueueEntry;
      this.entries.set(entry.id, entry);
    }
    for (const name of names) {
      const id = name.replace(/\.(eml|json)$/, "");
      const leftover = (name.endsWith(".eml") && !this.entries.has(id)) || name.endsWith(".tmp");
      if (leftover) await unlink(join(this.options.dir, name)).catch(() => undefined);
    }
  }

  /** Stores the message durably; once this resolves the caller may answer 250. */
  async enqueue(from: string, to: readonly string[], data: Buffer): Promise<string> {
    const id = `${Date.now().toString(36)}-${randomUUID()}`;
    const entry: QueueEntry = { id, from, to: [...to], createdAt: this.now(), attempts: 0, nextAttemptAt: this.now() };
    await writeSynced(join(this.options.dir, `${id}.eml`), data);
    await replaceFileDurably(join(this.options.dir, `${id}.json`), JSON.stringify(entry));
    await fsyncDir(this.options.dir);
    this.entries.set(id, entry);
    setImmediate(() => void this.runDue());
    return id;
  }

  start(): void {
    this.timer = setInterval(() => void this.runDue(), this.options.tickMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.transport?.close();
  }

  /** Attempts every entry whose time has come; resolves when those attempts are done. */
  async runDue(): Promise<void> {
    const due = [...this.entries.values()].filter((e) => e.nextAttemptAt <= this.now() && !this.inFlight.has(e.id));
    await Promise.all(due.map((e) => this.attempt(e)));
  }

  private async attempt(entry: QueueEntry): Promise<void> {
    this.inFlight.add(entry.id);
    const { log, settings } = this.options;
    try {
      if (!this.transport) throw Object.assign(new Error("no smarthost configured"), { responseCode: 550 });
      const raw = await readFile(join(this.options.dir, `${entry.id}.eml`));
      await this.transport.sendMail({ envelope: { from: entry.from, to: entry.to }, raw });
      log.info({ id: entry.id, to: entry.to, attempts: entry.attempts + 1 }, "relayed to smarthost");
      await this.remove(entry);
    } catch (error) {
      const code = (error as { responseCode?: number }).responseCode ?? 0;
      entry.attempts += 1;
      entry.lastError = (error as Error).message.slice(0, 500);
      const expired = this.now() - entry.createdAt >= settings.retry.giveUpAfterMs;
      if (code >= 500 || expired) {
        log.warn({ id: entry.id, code, error: entry.lastError, attempts: entry.attempts }, "bouncing undeliverable message");
        await this.bounce(entry);
        await this.remove(entry);
      } else {
        const delay = Math.min(settings.retry.maxDelayMs, settings.retry.initialDelayMs * 2 ** (entry.attempts - 1));
        entry.nextAttemptAt = this.now() + delay;
        log.info({ id: entry.id, error: entry.lastError, retryInMs: delay }, "relay failed; will retry");
        await replaceFileDurably(join(this.options.dir, `${entry.id}.json`), JSON.stringify(entry));
      }
    } finally {
      this.inFlight.delete(entry.id);
    }
  }

  private async bounce(entry: QueueEntry): Promise<void> {
    if (!entry.from) return; // never bounce a bounce (null sender)
    const original = await readFile(join(this.options.dir, `${entry.id}.eml`)).catch(() => Buffer.alloc(0));
    const headers = original
      .subarray(0, Math.max(0, original.indexOf("\r\n\r\n")))
      .toString("utf8")
      .slice(0, 8_000);
    const dsn = Buffer.from(
      [
        `From: Mail Delivery System <MAILER-DAEMON@${this.options.hostname}>`,
        `To: <${entry.from}>`,
        `Subject: Undelivered Mail Returned to Sender`,
        `Date: ${new Date(this.now()).toUTCString()}`,
        `Message-ID: <${randomUUID()}@${this.options.hostname}>`,
        `Auto-Submitted: auto-replied`,
        `Content-Type: text/plain; charset=utf-8`,
        ``,
        `Your message to ${entry.to.join(", ")} could not be delivered after ${entry.attempts} attempt(s).`,
        `Last error: ${entry.lastError ?? "unknown"}`,
        ``,
        `--- headers of the original message ---`,
        headers,
        ``,
      ].join("\r\n"),
    );
    const delivered = await this.options.bounceToLocal(entry.from, dsn).catch(() => false);
    if (!delivered) this.options.log.warn({ id: entry.id, from: entry.from }, "bounce dropped: sender is not a local user");
  }

  private async remove(entry: QueueEntry): Promise<void> {
    this.entries.delete(entry.id);
    // The .json goes first: without it the .eml is a leftover, never a second delivery.
    await unlink(join(this.options.dir, `${entry.id}.json`)).catch(() => undefined);
    await unlink(join(this.options.dir, `${entry.id}.eml`)).catch(() => undefined);
    await fsyncDir(this.options.dir).catch(() => undefined);
  }
}
