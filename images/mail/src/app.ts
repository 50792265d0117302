/**
 * The mail role assembled: mailboxes and the outbound queue on the data volume, the users'
 * password hashes, TLS, and the four servers (SMTP 25, submission 587, IMAPS 993, POP3S 995).
 * `startMailApp` is what main.ts runs and what the tests start in-process on port 0.
 */
import type { AddressInfo, Server } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { join } from "node:path";
import { Counter, Gauge, Registry } from "prom-client";
import type { SMTPServer } from "smtp-server";
import { Backups, copyTreeDurably, type BackupPolicy } from "../../runtime/backups";
import type { Logger } from "../../runtime/log";
import type { ReloadingTls } from "../../runtime/tls";
import type { MailSettings } from "../../../contracts/settings/mail";
import { mailboxOf, parseAddress } from "./addresses";
import { Authenticator } from "../../runtime/auth";
import { capConnections } from "./connection";
import { ImapSession } from "./imap/session";
import { DEFAULT_LIMITS, type MailLimits } from "./limits";
import { handlePop3Connection } from "./pop3";
import { OutboundQueue } from "./queue";
import { createInboundServer, createSubmissionServer } from "./smtp";
import { MailStore } from "./store";

export interface MailPorts {
  readonly smtp: number;
  readonly submission: number;
  readonly imaps: number;
  readonly pop3s: number;
}

export interface MailAppOptions {
  readonly dataDir: string;
  /** The datacenter's domain; always one of the accepted domains. */
  readonly domain: string;
  readonly hostname: string;
  readonly settings: MailSettings;
  /** Hosting customers' mailboxes on this service (contracts/views/mail.ts): full address and quota. */
  readonly mailboxes?: readonly { readonly address: string; readonly quotaBytes: number }[];
  /** Those customers' domains; an address there that is not a mailbox is refused with 550. @default the mailboxes' domains */
  readonly customerDomains?: readonly string[];
  /** user (local part, or a customer's full address) -> scrypt hash; users without a hash get a mailbox but cannot log in. */
  readonly credentials: Readonly<Record<string, string>>;
  readonly tls: ReloadingTls;
  readonly host: string;
  /** Port 0 picks a free port (tests). */
  readonly ports: MailPorts;
  readonly log: Logger;
  readonly registry?: Registry;
  /** Outbound queue tick. @default 1000 */
  readonly queueTickMs?: number;
  /** CA trusted for the smarthost's certificate. */
  readonly ca?: Buffer;
  /** Backups of the mailboxes and the queue. @default {dir: <dataDir>/backups, policy: {} (on demand only)} */
  readonly backup?: { readonly dir: string; readonly policy: BackupPolicy };
  /** What one client may cost (limits.ts); tests shorten the deadlines. @default DEFAULT_LIMITS */
  readonly limits?: Partial<MailLimits>;
}

export interface MailApp {
  readonly ports: MailPorts;
  readonly store: MailStore;
  readonly queue: OutboundQueue;
  readonly registry: Registry;
  readonly backups: Backups;
  /** Stops accepting, lets sessions finish (bounded by the caller's deadline). */
  close(): Promise<void>;
}

function listen(server: Server | SMTPServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = server as Server;
    const onError = (error: Error) => reject(error);
    s.once("error", onError);
    s.listen(port, host, () => {
      s.off("error", onError);
      const actual = "server" in server ? (server as unknown as { server: Server }).server.address() : s.address();
      resolve((actual as AddressInfo).port);
    });
  });
}

export async function startMailApp(options: MailAppOptions): Promise<MailApp> {
  const { settings, log } = options;
  const limits: MailLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const registry = options.registry ?? new Registry();
  const domains = new Set([options.domain.toLowerCase(), ...settings.domains]);
  const mailboxes = (options.mailboxes ?? []).map((m) => ({ address: m.address.toLowerCase(), quotaBytes: m.quotaBytes }));
  const customerDomains = new Set([
    ...(options.customerDomains ?? []).map((d) => d.toLowerCase()),
    ...mailboxes.map((m) => m.address.slice(m.address.lastIndexOf("@") + 1)),
  ]);
  const users = [...new Set([...settings.users, ...mailboxes.map((m) => m.address), ...Object.keys(options.credentials)])];
  const store = await MailStore.open(
    join(options.dataDir, "mailboxes"),
    users,
    (q) =>
      log.error(
        { user: q.user, path: q.path, reason: q.reason },
        "mailbox quarantined: its state cannot be trusted; the folder was moved aside whole and the user starts with an empty INBOX",
      ),
    new Map(mailboxes.map((m) => [m.address, m.quotaBytes])),
  );
  const auth = new Authenticator(new Map(Object.entries(options.credentials)), settings.loginLimit);
  const queue = new OutboundQueue({
    dir: join(options.dataDir, "queue"),
    settings,
    log,
    hostname: options.hostname,
    tickMs: options.queueTickMs,
    ca: options.ca,
    bounceToLocal: async (from, dsn) => {
      const parsed = parseAddress(from);
      const user = parsed && mailboxOf(parsed, domains, customerDomains);
      if (!user || !store.has(user)) return false;
      await store.deliver([user], dsn);
      return true;
    },
  });
  await queue.open();
  queue.start();

  // A backup copies every mailbox and the queue. Messages are immutable once visible and
  // state.json is replaced atomically, so each copied file is whole; messages being written
  // (tmp/, *.tmp) are left out — they were not acknowledged yet.
  const backups = new Backups({
    dir: options.backup?.dir ?? join(options.dataDir, "backups"),
    policy: options.backup?.policy ?? {},
    log,
    registry,
    write: async (target) =>
      (await copyTreeDurably(join(options.dataDir, "mailboxes"), join(target, "mailboxes"), (rel) => !/(^|\/)tmp(\/|$)/.test(rel))) +
      (await copyTreeDurably(join(options.dataDir, "queue"), join(target, "queue"), (rel) => !rel.endsWith(".tmp"))),
  });
  backups.start();

  const accepted = new Counter({
    name: "mail_messages_accepted_total",
    help: "Messages accepted (fsynced) by SMTP server",
    labelNames: ["server"],
    registers: [registry],
  });
  const acceptedBytes = new Counter({ name: "mail_accepted_bytes_total", help: "Bytes of accepted messages", labelNames: ["server"], registers: [registry] });
  new Gauge({
    name: "mail_outbound_queue_size",
    help: "Messages waiting for the smarthost",
    registers: [registry],
    collect() {
      this.set(queue.size);
    },
  });

  const deps = {
    store,
    queue,
    auth,
    domains,
    customerDomains,
    settings,
    tls: options.tls,
    log,
    hostname: options.hostname,
    limits,
    onAccepted: (kind: string, bytes: number) => {
      accepted.inc({ server: kind });
      acceptedBytes.inc({ server: kind }, bytes);
    },
  };
  const inbound = createInboundServer(deps);
  const submission = createSubmissionServer(deps);
  // IMAP and POP3 are TLS from the first byte (993/995); the context comes from the reloading
  // TLS material so renewed certificates apply to new connections without a restart.
  const tlsOptions = {
    SNICallback: (_: string, cb: (e: Error | null, c: ReturnType<ReloadingTls["current"]>) => void) => cb(null, options.tls.current()),
    ...options.tls.material(),
    minVersion: "TLSv1.2" as const,
    handshakeTimeout: limits.handshakeMs,
  };
  const imap = createTlsServer(tlsOptions);
  const imapPreAuth = capConnections(imap, limits);
  imap.on(
    "secureConnection",
    (socket) => new ImapSession(socket, { store, auth, log, maxMessageBytes: settings.maxMessageBytes, limits, preAuth: imapPreAuth }),
  );
  const pop3 = createTlsServer(tlsOptions);
  const pop3PreAuth = capConnections(pop3, limits);
  pop3.on("secureConnection", (socket) => handlePop3Connection(socket, { store, auth, log, limits, preAuth: pop3PreAuth }));
  for (const s of [imap, pop3]) s.on("tlsClientError", (error) => log.debug({ err: error }, "TLS handshake failed"));

  const ports: MailPorts = {
    smtp: await listen(inbound, options.ports.smtp, options.host),
    submission: await listen(submission, options.ports.submission, options.host),
    imaps: await listen(imap, options.ports.imaps, options.host),
    pop3s: await listen(pop3, options.ports.pop3s, options.host),
  };
  log.info({ ports, domains: [...domains], customerDomains: customerDomains.size, users: users.length }, "mail servers listening");

  const closeNet = (s: Server) => new Promise<void>((resolve) => s.close(() => resolve()));
  const closeSmtp = (s: SMTPServer) => new Promise<void>((resolve) => s.close(() => resolve()));
  return {
    ports,
    store,
    queue,
    registry,
    backups,
    async close() {
      queue.stop();
      backups.stop();
      await Promise.all([closeSmtp(inbound), closeSmtp(submission), closeNet(imap), closeNet(pop3)]);
    },
  };
}
