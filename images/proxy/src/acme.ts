/**
 * Certificates for hosting customers' names from an ACME CA (RFC 8555) with acme-client, when
 * the stack's `certificates` choose `acme` (contracts/views/proxy.ts AcmeView): one order per
 * customer domain set, HTTP-01 answered by this proxy on its HTTP port, key and certificate kept
 * in one file per set on the proxy's volume (`<dir>/<set>.pem`, written whole and renamed into
 * place) and served by SNI from the moment they exist — until then the name keeps the datacenter
 * CA's certificate. Renewed once `renewAfter` of a certificate's lifetime has passed; a failed
 * order is retried after a wait that doubles up to `backoffMaxMs`.
 *
 * Bounded: only the view's names are ever ordered (nothing a client sends adds one), at most
 * `maxOrdersInFlight` orders run at once, and a challenge is answered only for a token of an
 * order in progress and only under the name it was issued for.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { Agent } from "node:https";
import { join } from "node:path";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import type * as AcmeClient from "acme-client";
import { Counter, Gauge, type Registry } from "prom-client";
import type { AcmeView } from "../../../contracts/views/proxy";
import type { Logger } from "../../runtime/log";

export const CHALLENGE_PREFIX = "/.well-known/acme-challenge/";
/** Marks a request from a peer replica: answered from this replica's own tokens only, never passed on. */
export const PEER_HEADER = "x-serverpark-acme-peer";
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;
/** How long a peer has to answer, and how much of its answer is read (a key authorization is ~90 bytes). */
const PEER_TIMEOUT_MS = 2000;
const PEER_MAX_BYTES = 1024;
/** Peer lookups running at once; beyond, a request for a token this replica did not issue is 404 at once. */
const MAX_PEER_LOOKUPS = 32;
/** setTimeout's longest wait; a later renewal is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----\n?/;

export interface AcmeIssuerOptions {
  readonly view: AcmeView;
  /** Where the account key and the certificates live (contracts/paths.ts PROXY_ACME_PATH). */
  readonly dir: string;
  readonly log: Logger;
  readonly registry: Registry;
  /** This replica's own addresses: skipped among the view's peers. */
  readonly ownAddresses?: readonly string[];
  /** First wait after a failed order; doubled after each further failure. @default 300000 (5 min) */
  readonly backoffMinMs?: number;
  /** @default 21600000 (6 h) */
  readonly backoffMaxMs?: number;
}

interface DomainSet {
  readonly id: string;
  readonly names: readonly string[];
  context?: SecureContext;
  /** The served certificate's names (a stored one may predate a change of the set). */
  covers: ReadonlySet<string>;
  notBefore?: Date;
  notAfter?: Date;
  failures: number;
  /** Waiting for or holding an order slot. */
  busy: boolean;
  timer?: NodeJS.Timeout;
}

export class AcmeIssuer {
  private readonly sets: DomainSet[];
  private readonly byName = new Map<string, DomainSet>();
  /** token → the name it may be answered under and its key authorization (orders in progress only). */
  private readonly tokens = new Map<string, { readonly name: string; readonly keyAuthorization: string }>();
  private readonly waiting: DomainSet[] = [];
  private running = 0;
  private peerLookups = 0;
  private retry?: NodeJS.Timeout;
  private closed = false;
  /** acme-client, loaded on start: a proxy without ACME never runs its (large) initialisation. */
  private acme!: typeof AcmeClient;
  private client?: AcmeClient.Client;
  private readonly orders: Counter<"set" | "result">;
  private readonly expiry: Gauge<"set">;

  constructor(private readonly options: AcmeIssuerOptions) {
    this.sets = options.view.domainSets.map((s) => ({ id: s.id, names: s.names.map((n) => n.toLowerCase()), covers: new Set(), failures: 0, busy: false }));
    for (const set of this.sets) for (const name of set.names) this.byName.set(name, set);
    this.orders = new Counter({
      name: "proxy_acme_orders_total",
      help: "ACME orders by customer domain set and result (issued, failed)",
      labelNames: ["set", "result"],
      registers: [options.registry],
    });
    this.expiry = new Gauge({
      name: "proxy_acme_certificate_expiry_seconds",
      help: "When each domain set's ACME certificate expires (Unix time); absent until one exists",
      labelNames: ["set"],
      registers: [options.registry],
    });
  }

  /**
   * Loads the stored certificates and schedules every order and renewal. Never fails the proxy:
   * when its state cannot be read or written (a volume missing or read-only) it logs why, keeps
   * serving the datacenter CA's certificates and tries again after the backoff.
   */
  async start(attempt = 1): Promise<void> {
    try {
      await this.init();
    } catch (error) {
      const { backoffMinMs = 300_000, backoffMaxMs = 21_600_000 } = this.options;
      const retryInMs = Math.min(backoffMinMs * 2 ** (attempt - 1), backoffMaxMs);
      this.options.log.error(
        { event: "acme-unavailable", err: error, dir: this.options.dir, retryInMs },
        "ACME state unusable; serving the datacenter CA's certificates",
      );
      if (this.closed) return;
      this.retry = setTimeout(() => void this.start(attempt + 1), retryInMs);
      this.retry.unref();
    }
  }

  private async init(): Promise<void> {
    const { view, log } = this.options;
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    const acme = (this.acme = await import("acme-client"));
    if (view.caBundle) acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, view.caBundle] });
    acme.setLogger((message) => log.debug({ event: "acme" }, message));
    this.client = new acme.Client({ directoryUrl: view.directoryUrl, accountKey: await this.accountKey() });
    for (const set of this.sets) {
      await this.load(set);
      this.schedule(set, this.dueIn(set));
    }
  }

  /** The context for a TLS handshake naming `servername`, while its ACME certificate exists and has not expired. */
  context(servername: string): SecureContext | undefined {
    const name = servername.toLowerCase();
    const set = this.byName.get(name);
    return set?.covers.has(name) && set.notAfter !== undefined && set.notAfter.getTime() > Date.now() ? set.context : undefined;
  }

  /**
   * The HTTP-01 answer for a request, or undefined when it is not for one of our names' ACME
   * challenges (the request is then routed as usual); null when it is, but for no token in progress.
   */
  challenge(host: string | undefined, url: string): string | null | undefined {
    if (!url.startsWith(CHALLENGE_PREFIX) || host === undefined) return undefined;
    const name = host.replace(/:\d+$/, "").toLowerCase();
    if (!this.byName.has(name)) return undefined;
    const entry = this.tokens.get(url.slice(CHALLENGE_PREFIX.length));
    return entry?.name === name ? entry.keyAuthorization : null;
  }

  /**
   * The answer to a challenge for one of our names whose token this replica did not issue: the
   * CA's request reached it while another replica of the service is ordering. Asked of every
   * other replica at once (each within {@link PEER_TIMEOUT_MS}); undefined when none has it.
   */
  async fromPeers(host: string, url: string): Promise<string | undefined> {
    const name = host.replace(/:\d+$/, "").toLowerCase();
    const token = url.slice(CHALLENGE_PREFIX.length);
    if (!this.byName.has(name) || !TOKEN.test(token)) return undefined;
    if (this.peerLookups >= MAX_PEER_LOOKUPS) return undefined;
    const own = new Set(this.options.ownAddresses ?? []);
    const peers = this.options.view.peers.filter((p) => !own.has(p.host));
    this.peerLookups++;
    try {
      const answers = await Promise.all(peers.map((p) => askPeer(p, name, `${CHALLENGE_PREFIX}${token}`)));
      return answers.find((a) => a !== undefined);
    } finally {
      this.peerLookups--;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    for (const set of this.sets) clearTimeout(set.timer);
  }

  private async accountKey(): Promise<Buffer> {
    const file = join(this.options.dir, "account.key");
    try {
      return await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const key = await this.acme.crypto.createPrivateEcdsaKey();
    await this.writeWhole(file, key);
    this.options.log.info({ event: "acme-account-key" }, "generated a new ACME account key");
    return key;
  }

  /** A stored certificate for the set, when readable and matching its key; anything else is ordered anew. */
  private async load(set: DomainSet): Promise<void> {
    let pem: string;
    try {
      pem = await readFile(this.pemFile(set), "utf8");
    } catch {
      return;
    }
    try {
      this.use(set, pem);
    } catch (error) {
      this.options.log.warn({ event: "acme-stored-unusable", set: set.id, err: error }, "stored ACME certificate unusable; ordering a new one");
    }
  }

  private use(set: DomainSet, pem: string): void {
    const key = PRIVATE_KEY_PEM.exec(pem)?.[0];
    if (!key) throw new Error("no private key in the stored file");
    const cert = pem.replace(key, "");
    const context = createSecureContext({ key, cert, minVersion: "TLSv1.2" });
    const info = this.acme.crypto.readCertificateInfo(cert);
    set.context = context;
    set.covers = new Set([info.domains.commonName, ...info.domains.altNames].map((n) => n.toLowerCase()));
    set.notBefore = info.notBefore;
    set.notAfter = info.notAfter;
    this.expiry.set({ set: set.id }, Math.floor(info.notAfter.getTime() / 1000));
  }

  /** Milliseconds until the set needs an order: now without a certificate for all its names, else at `renewAfter` of its lifetime. */
  private dueIn(set: DomainSet): number {
    if (!set.context || !set.notBefore || !set.notAfter || set.names.some((n) => !set.covers.has(n))) return 0;
    const lifetime = set.notAfter.getTime() - set.notBefore.getTime();
    return Math.max(0, set.notBefore.getTime() + lifetime * this.options.view.renewAfter - Date.now());
  }

  private schedule(set: DomainSet, delayMs: number): void {
    if (this.closed) return;
    clearTimeout(set.timer);
    const wait = Math.min(delayMs, MAX_TIMER_MS);
    set.timer = setTimeout(() => {
      const due = this.dueIn(set);
      if (set.failures === 0 && due > 0) return this.schedule(set, due);
      this.enqueue(set);
    }, wait);
    set.timer.unref();
  }

  private enqueue(set: DomainSet): void {
    if (set.busy || this.closed) return;
    set.busy = true;
    this.waiting.push(set);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.options.view.maxOrdersInFlight && this.waiting.length > 0) {
      const set = this.waiting.shift()!;
      this.running++;
      void this.order(set).finally(() => {
        this.running--;
        set.busy = false;
        this.pump();
      });
    }
  }

  private async order(set: DomainSet): Promise<void> {
    const { log } = this.options;
    const issued: string[] = [];
    try {
      const { crypto } = this.acme;
      const [key, csr] = await crypto.createCsr({ commonName: set.names[0]!, altNames: [...set.names] }, await crypto.createPrivateEcdsaKey());
      const cert = await this.client!.auto({
        csr,
        email: this.options.view.email,
        // Choosing `acme` in the stack agrees to the CA's terms (the README says so).
        termsOfServiceAgreed: true,
        challengePriority: ["http-01"],
        // The CA checks; a self-check would ask our own DNS from inside the datacenter.
        skipChallengeVerification: true,
        challengeCreateFn: (authz, challenge, keyAuthorization) => {
          const name = authz.identifier.value.toLowerCase();
          if (challenge.type !== "http-01" || !set.names.includes(name)) throw new Error(`refusing a ${challenge.type} challenge for ${name}`);
          this.tokens.set(challenge.token, { name, keyAuthorization });
          issued.push(challenge.token);
          return Promise.resolve();
        },
        challengeRemoveFn: (_authz, challenge) => {
          this.tokens.delete(challenge.token);
          return Promise.resolve();
        },
      });
      const pem = `${key.toString().trimEnd()}\n${cert}`;
      this.use(set, pem);
      await this.writeWhole(this.pemFile(set), pem);
      set.failures = 0;
      this.orders.inc({ set: set.id, result: "issued" });
      log.info({ event: "acme-issued", set: set.id, names: set.names, notAfter: set.notAfter }, "ACME certificate issued");
      this.schedule(set, this.dueIn(set));
    } catch (error) {
      set.failures++;
      const { backoffMinMs = 300_000, backoffMaxMs = 21_600_000 } = this.options;
      const retryInMs = Math.min(backoffMinMs * 2 ** (set.failures - 1), backoffMaxMs);
      this.orders.inc({ set: set.id, result: "failed" });
      log.warn(
        { event: "acme-failed", set: set.id, err: error, failures: set.failures, retryInMs },
        "ACME order failed; serving the datacenter CA's certificate meanwhile",
      );
      this.schedule(set, retryInMs);
    } finally {
      for (const token of issued) this.tokens.delete(token);
    }
  }

  private pemFile(set: DomainSet): string {
    return join(this.options.dir, `${set.id}.pem`);
  }

  /** Written to a temporary file and renamed over the old one: a crash never leaves half a key. */
  private async writeWhole(file: string, content: string | Buffer): Promise<void> {
    const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    await writeFile(temp, content, { mode: 0o600 });
    await rename(temp, file);
  }
}

/** GET a challenge answer from a peer replica; undefined on anything but a 200 with a short body. */
function askPeer(peer: { readonly host: string; readonly port: number }, name: string, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: peer.host, port: peer.port, path, headers: { host: name, [PEER_HEADER]: "1" }, timeout: PEER_TIMEOUT_MS }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return resolve(undefined);
      }
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
        if (body.length > PEER_MAX_BYTES) req.destroy();
      });
      res.on("end", () => resolve(body.length <= PEER_MAX_BYTES ? body : undefined));
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}
