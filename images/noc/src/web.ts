/**
 * The NOC's web server: the status page, the live SVG, the status JSON and the probe
 * history (`/api/history`, every result in the window), all behind HTTP Basic
 * authentication — over HTTPS with the replica's certificate from the datacenter CA
 * (TLS 1.2 or newer, reloaded when renewed), so the password never crosses a network in
 * clear. Plain HTTP only when no certificate is given (tests; the role's entry refuses to
 * start without one).
 *
 * Failed logins are throttled per client address (see {@link LoginThrottle}); the right
 * password always gets in, so nobody sharing an address with an attacker (everyone behind
 * Docker's port proxy shares one) can be locked out by the attacker's failures.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "../../runtime/log";
import type { DiagramModel } from "../../../contracts/views/noc";
import { renderDatacenterSvg } from "./diagram";
import { createReloadingTls, type TlsFiles } from "../../runtime/tls";
import type { Monitor } from "./monitor";
import { statusPage } from "./page";

export interface NocWebOptions {
  readonly model: DiagramModel;
  readonly monitor: Monitor;
  readonly username: string;
  readonly password: string;
  readonly log: Logger;
  readonly refreshMs: number;
  readonly historyMinutes: number;
  /** @default 8080 */
  readonly port?: number;
  /** @default "0.0.0.0" */
  readonly host?: string;
  /** The replica's certificate: the page is served over HTTPS. Without it, plain HTTP. */
  readonly tls?: TlsFiles;
}

/** Failures an address may make before it is slowed down. */
export const FREE_FAILURES = 10;
/** The longest an address waits between failed tries. */
export const MAX_BACKOFF_MS = 5 * 60_000;
/** Addresses remembered at most (oldest forgotten first). */
const MAX_TRACKED = 10_000;

/**
 * Failed logins per client address: after {@link FREE_FAILURES}, each further failure
 * doubles the time that address must wait (1 s, 2 s, 4 s … {@link MAX_BACKOFF_MS}) before
 * a request without the right credentials is even answered with 401; until then it gets
 * 429. A request with the right credentials is always served and clears its address.
 * Nothing is global: one address's failures never affect another's, and never the operator
 * who has the password. An address quiet for twice its wait starts over.
 */
export class LoginThrottle {
  private readonly entries = new Map<string, { failures: number; until: number; last: number }>();

  /** Milliseconds `address` must still wait (0: it may try). */
  waitMs(address: string, now = Date.now()): number {
    const e = this.entries.get(address);
    if (!e) return 0;
    if (now - e.last > 2 * Math.max(60_000, e.until - e.last)) {
      this.entries.delete(address);
      return 0;
    }
    return Math.max(0, e.until - now);
  }

  failed(address: string, now = Date.now()): void {
    const e = this.entries.get(address) ?? { failures: 0, until: 0, last: now };
    e.failures++;
    e.last = now;
    if (e.failures > FREE_FAILURES) e.until = now + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(20, e.failures - FREE_FAILURES - 1));
    this.entries.delete(address); // re-inserted last: the Map's order is the eviction order
    this.entries.set(address, e);
    if (this.entries.size > MAX_TRACKED) this.entries.delete(this.entries.keys().next().value!);
  }

  succeeded(address: string): void {
    this.entries.delete(address);
  }
}

const digest = (s: string) => createHash("sha256").update(s).digest();

export async function startNocWeb(options: NocWebOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const expected = digest(`${options.username}:${options.password}`);
  const throttle = new LoginThrottle();

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization ?? "";
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
    return m !== null && timingSafeEqual(digest(Buffer.from(m[1]!, "base64").toString("utf8")), expected);
  };

  const svg = () => {
    const s = options.monitor.status();
    return renderDatacenterSvg(options.model, {
      replicas: s.replicas,
      details: s.details,
      availability: s.availability,
      downtime: s.downtime,
      ...(s.power ? { power: s.power } : {}),
      availabilityLabel: `availability, last ${options.historyMinutes} min`,
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://noc").pathname;
    const client = req.socket.remoteAddress ?? "?";
    if (authorized(req)) throttle.succeeded(client);
    else {
      // A request without credentials always gets the challenge (a browser's first request
      // must, or the operator would never be asked for the password).
      const wait = req.headers.authorization ? throttle.waitMs(client) : 0;
      if (wait > 0) {
        res
          .writeHead(429, { "retry-after": String(Math.ceil(wait / 1000)), "content-type": "text/plain" })
          .end("too many failed logins from your address; wait\n");
        return;
      }
      if (req.headers.authorization) {
        throttle.failed(client);
        options.log.warn({ client }, "NOC login failed");
      }
      res
        .writeHead(401, { "www-authenticate": 'Basic realm="serverpark noc", charset="UTF-8"', "content-type": "text/plain" })
        .end("authentication required\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const common = { "cache-control": "no-store", "x-content-type-options": "nosniff", "x-frame-options": "DENY" };
    if (path === "/") {
      const nonce = randomBytes(16).toString("base64");
      res.writeHead(200, {
        ...common,
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": `default-src 'self'; script-src 'nonce-${nonce}'; style-src 'self' 'nonce-${nonce}' 'unsafe-inline'`,
      });
      res.end(statusPage({ datacenter: options.model.datacenter, svg: svg(), nonce, refreshMs: Math.min(options.refreshMs, 5000) }));
    } else if (path === "/diagram.svg") {
      res.writeHead(200, { ...common, "content-type": "image/svg+xml; charset=utf-8" }).end(svg());
    } else if (path === "/api/history") {
      res.writeHead(200, { ...common, "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(options.monitor.history()));
    } else if (path === "/api/status") {
      res.writeHead(200, { ...common, "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(options.monitor.status()));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  };

  const listener: RequestListener = (req, res) => {
    try {
      handle(req, res);
    } catch (error) {
      options.log.error({ err: error }, "NOC request failed");
      if (!res.headersSent) res.writeHead(500).end();
    }
  };
  const limits = { requestTimeout: 10_000, headersTimeout: 5_000, maxHeaderSize: 16 * 1024, keepAliveTimeout: 5_000 };
  let stopWatch = () => {};
  let server: Server;
  if (options.tls) {
    const minVersion = "TLSv1.2";
    let secure: HttpsServer | undefined;
    const tls = await createReloadingTls(options.tls, options.log, (m) => secure?.setSecureContext({ cert: m.cert, key: m.key, minVersion }));
    server = secure = createHttpsServer({ ...limits, cert: tls.material().cert, key: tls.material().key, minVersion }, listener);
    stopWatch = tls.watch();
  } else {
    server = createServer(limits, listener);
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host ?? "0.0.0.0", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.log.info({ port, https: !!options.tls }, "NOC page listening");
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        stopWatch();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
