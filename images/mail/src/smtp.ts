/**
 * The two SMTP servers (smtp-server does the protocol: replies, PIPELINING, SIZE, STARTTLS,
 * AUTH PLAIN/LOGIN; we decide policy):
 *   inbound (25)     mail for our domains' users only; relaying for anyone is refused.
 *   submission (587) STARTTLS before AUTH, AUTH before MAIL; local recipients are delivered,
 *                    others go to the durable outbound queue for the smarthost.
 * 250 is answered only after every copy is fsynced (MailStore.deliver / OutboundQueue.enqueue).
 */
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server";
import type { Logger } from "../../runtime/log";
import type { ReloadingTls } from "../../runtime/tls";
import type { MailSettings } from "../../../contracts/settings/mail";
import { mailboxOf, parseAddress } from "./addresses";
import { QuotaExceededError } from "./quota";
import type { Authenticator } from "../../runtime/auth";
import type { OutboundQueue } from "./queue";
import type { MailStore } from "./store";
import { AddressCounter } from "./connection";
import type { MailLimits } from "./limits";

export interface SmtpDeps {
  readonly store: MailStore;
  readonly queue: OutboundQueue;
  readonly auth: Authenticator;
  readonly domains: ReadonlySet<string>;
  /** Hosting customers' domains: their mailboxes are full addresses (addresses.ts mailboxOf). */
  readonly customerDomains: ReadonlySet<string>;
  readonly settings: MailSettings;
  readonly tls: ReloadingTls;
  readonly log: Logger;
  readonly hostname: string;
  readonly limits: MailLimits;
  /** Counts accepted messages by server kind. */
  readonly onAccepted?: (kind: "inbound" | "submission", bytes: number) => void;
}

const smtpError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

function baseOptions(deps: SmtpDeps): SMTPServerOptions {
  const material = deps.tls.material();
  return {
    name: deps.hostname,
    banner: "Serverpark ESMTP",
    key: material.key,
    cert: material.cert,
    size: deps.settings.maxMessageBytes,
    // Reverse lookups would send DNS queries to the outside for every connection.
    disableReverseLookup: true,
    logger: false,
    maxClients: 1_000,
    socketTimeout: 60_000,
    closeTimeout: 5_000,
    // smtp-server defaults to TLS 1.0 "for very old clients"; nothing below 1.2 here.
    minVersion: "TLSv1.2",
    // Submission: commands before AUTH (EHLO, STARTTLS, EHLO, AUTH … leave room to spare).
    maxAllowedUnauthenticatedCommands: 10,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: true,
  };
}

/**
 * Reads the DATA stream into memory, at most `limit` bytes: smtp-server keeps streaming
 * past its SIZE limit (it must read up to the final dot), so bytes beyond it are dropped
 * as they arrive, and the message is refused with 552 at its end.
 */
function collect(stream: NodeJS.ReadableStream & { sizeExceeded?: boolean }, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    stream.on("error", reject);
    stream.on("end", () => {
      if (stream.sizeExceeded || bytes > limit) return reject(smtpError(552, `5.3.4 Message exceeds the fixed maximum size of ${limit} bytes`));
      resolve(Buffer.concat(chunks));
    });
  });
}

interface SmtpConnection {
  readonly id: string;
  send(code: number, message: string): void;
  close(): void;
}

/**
 * Per-address connection cap and a deadline on every session: on 587 until AUTH succeeds
 * (`preAuthMs`), on 25 for the whole session (`smtpSessionMs`, there is no login there).
 * Activity does not extend either. smtp-server answers a refused connection with 421.
 */
function sessionLimits(kind: "inbound" | "submission", deps: SmtpDeps, server: () => SMTPServer) {
  const perAddress = new AddressCounter(deps.limits.perAddress);
  const preAuth = new AddressCounter(kind === "submission" ? deps.limits.preAuthConnections : Number.MAX_SAFE_INTEGER);
  const open = new Map<string, { address: string; timer: NodeJS.Timeout; preAuth: boolean }>();
  const release = (id: string, keepOpen = false) => {
    const entry = open.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    if (entry.preAuth) preAuth.remove("all");
    entry.preAuth = false;
    if (keepOpen) return;
    perAddress.remove(entry.address);
    open.delete(id);
  };
  const ms = kind === "submission" ? deps.limits.preAuthMs : deps.limits.smtpSessionMs;
  const onConnect: SMTPServerOptions["onConnect"] = (session, callback) => {
    const address = session.remoteAddress;
    if (!perAddress.tryAdd(address)) return callback(smtpError(421, "4.7.0 Too many connections from your address"));
    if (!preAuth.tryAdd("all")) {
      perAddress.remove(address);
      return callback(smtpError(421, "4.7.0 Too many connections; try again later"));
    }
    const timer = setTimeout(() => {
      const connections = (server() as unknown as { connections: Set<SmtpConnection> }).connections;
      for (const c of connections) {
        if (c.id !== session.id) continue;
        c.send(421, kind === "submission" ? "4.7.0 Log in sooner" : "4.4.2 Session time limit exceeded; reconnect");
        c.close();
      }
    }, ms);
    open.set(session.id, { address, timer, preAuth: true });
    callback();
  };
  return {
    onConnect,
    onClose: (session: SMTPServerSession) => release(session.id),
    /** Submission: the client logged in, so its deadline no longer applies. */
    loggedIn: (session: SMTPServerSession) => release(session.id, true),
  };
}

function traceHeaders(session: SMTPServerSession, hostname: string, kind: string): Buffer {
  const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
  const helo = (session.hostNameAppearsAs || "unknown").replace(/[^\x21-\x7e]/g, "");
  const withWhat = `${session.transmissionType ?? "ESMTP"}${session.user ? " authenticated" : ""}`;
  return Buffer.from(
    `Return-Path: <${from}>\r\nReceived: from ${helo} ([${session.remoteAddress}])\r\n\tby ${hostname} (Serverpark ${kind}) with ${withWhat} id ${session.id};\r\n\t${new Date().toUTCString()}\r\n`,
  );
}

/** Splits recipients into local users and remote addresses; throws the SMTP error for a bad one. */
function classify(address: string, deps: SmtpDeps): { local?: string; remote?: string } {
  const parsed = parseAddress(address);
  if (!parsed) throw smtpError(553, "5.1.3 Bad recipient address syntax");
  const user = mailboxOf(parsed, deps.domains, deps.customerDomains);
  if (user === undefined) return { remote: address };
  if (!deps.store.has(user)) throw smtpError(550, `5.1.1 <${address}>: Recipient address rejected: User unknown`);
  return { local: user };
}

/**
 * A full mailbox (RFC 3463 X.2.2) is a transient condition — its owner can delete mail — so
 * the answer is 452 4.2.2 and the sender's server keeps the message and retries. Only a
 * message larger than the whole quota can never fit: 552 5.2.2.
 */
function quotaError(error: QuotaExceededError, address: string): Error {
  return error.permanent
    ? smtpError(552, `5.2.2 <${address}>: Message is larger than the mailbox's quota`)
    : smtpError(452, `4.2.2 <${address}>: Mailbox full; try again later`);
}

async function accept(kind: "inbound" | "submission", stream: NodeJS.ReadableStream, session: SMTPServerSession, deps: SmtpDeps): Promise<string> {
  const body = await collect(stream, deps.settings.maxMessageBytes);
  const data = Buffer.concat([traceHeaders(session, deps.hostname, kind), body]);
  const local: string[] = [];
  const remote: string[] = [];
  for (const rcpt of session.envelope.rcptTo) {
    const c = classify(rcpt.address, deps);
    if (c.local) local.push(c.local);
    if (c.remote) remote.push(c.remote);
  }
  const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
  // Local copies first, all or nothing: over quota, nothing is stored and nothing queued.
  if (local.length > 0) {
    try {
      await deps.store.deliver(local, data);
    } catch (error) {
      if (error instanceof QuotaExceededError) throw quotaError(error, error.user);
      throw error;
    }
  }
  if (remote.length > 0) await deps.queue.enqueue(from, remote, data);
  deps.onAccepted?.(kind, data.length);
  deps.log.info({ kind, session: session.id, from, local: local.length, remote: remote.length, bytes: data.length }, "message accepted");
  return `2.0.0 Ok: queued as ${session.id}`;
}

function onData(kind: "inbound" | "submission", deps: SmtpDeps): SMTPServerOptions["onData"] {
  return (stream, session, callback) => {
    accept(kind, stream, session, deps).then(
      (message) => callback(null, message),
      (error: Error & { responseCode?: number }) => {
        if (!error.responseCode) deps.log.error({ err: error, session: session.id }, "storing message failed");
        // A storage failure is temporary from the client's point of view: it must retry.
        callback(error.responseCode ? error : smtpError(451, "4.3.0 Local error in processing; try again later"));
      },
    );
  };
}

function onRcptTo(kind: "inbound" | "submission", deps: SmtpDeps): SMTPServerOptions["onRcptTo"] {
  return (address, session, callback) => {
    try {
      if (session.envelope.rcptTo.length >= deps.settings.maxRecipients) throw smtpError(452, "4.5.3 Too many recipients");
      const c = classify(address.address, deps);
      if (c.local) {
        // Full already, or too small for the size the client declared (MAIL FROM SIZE=).
        const args = (session.envelope.mailFrom ? session.envelope.mailFrom.args : undefined) as { SIZE?: string } | false | undefined;
        const declared = Number((args && args.SIZE) ?? 0) || 0;
        const quota = deps.store.mailbox(c.local).quota;
        if (!quota.fits(Math.max(declared, 1))) throw quotaError(new QuotaExceededError(c.local, Math.max(declared, 1), quota.limitBytes), address.address);
      }
      if (c.remote && kind === "inbound") throw smtpError(554, `5.7.1 <${address.address}>: Relay access denied`);
      if (c.remote && !deps.settings.smarthost) throw smtpError(550, "5.7.1 No relay for remote domains is configured here");
      callback();
    } catch (error) {
      callback(error as Error);
    }
  };
}

function onMailFrom(kind: "inbound" | "submission", deps: SmtpDeps): SMTPServerOptions["onMailFrom"] {
  return (address, session, callback) => {
    if (address.address === "") return kind === "inbound" ? callback() : callback(smtpError(553, "5.7.1 A null sender is not allowed on submission"));
    const parsed = parseAddress(address.address);
    if (!parsed) return callback(smtpError(553, "5.1.7 Bad sender address syntax"));
    // Submission: users send only as themselves, so nobody can forge a colleague.
    if (kind === "submission" && mailboxOf(parsed, deps.domains, deps.customerDomains) !== session.user) {
      return callback(smtpError(553, `5.7.1 <${address.address}>: Sender address not owned by user ${String(session.user)}`));
    }
    callback();
  };
}

export function createInboundServer(deps: SmtpDeps): SMTPServer {
  const limits = sessionLimits("inbound", deps, () => server);
  const server: SMTPServer = new SMTPServer({
    ...baseOptions(deps),
    onConnect: limits.onConnect,
    onClose: limits.onClose,
    authOptional: true,
    disabledCommands: ["AUTH"],
    onMailFrom: onMailFrom("inbound", deps),
    onRcptTo: onRcptTo("inbound", deps),
    onData: onData("inbound", deps),
  });
  // Without a listener one failed TLS handshake would crash the whole process.
  server.on("error", (error) => deps.log.debug({ err: error }, "smtp connection error"));
  return server;
}

export function createSubmissionServer(deps: SmtpDeps): SMTPServer {
  const limits = sessionLimits("submission", deps, () => server);
  const server: SMTPServer = new SMTPServer({
    ...baseOptions(deps),
    onConnect: limits.onConnect,
    onClose: limits.onClose,
    authMethods: ["PLAIN", "LOGIN"],
    authOptional: false,
    allowInsecureAuth: false,
    onAuth(auth, session, callback) {
      const password = auth.password ?? "";
      deps.auth.login(session.remoteAddress, auth.username ?? "", password).then((result) => {
        if (result.ok) {
          limits.loggedIn(session);
          return callback(null, { user: result.user });
        }
        const error =
          result.reason === "blocked"
            ? smtpError(454, "4.7.0 Too many failed logins; try again later")
            : smtpError(535, "5.7.8 Authentication credentials invalid");
        callback(error);
      }, callback);
    },
    onMailFrom: onMailFrom("submission", deps),
    onRcptTo: onRcptTo("submission", deps),
    onData: onData("submission", deps),
  });
  server.on("error", (error) => deps.log.debug({ err: error }, "submission connection error"));
  return server;
}
