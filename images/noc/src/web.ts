/**
 * The NOC's web server: the status page, the live SVG, the status JSON and the probe
 * history (`/api/history`, every result in the window), all behind
 * HTTP Basic authentication (the deployment publishes it on 127.0.0.1 only; Basic over
 * loopback is adequate there, and every browser and curl speaks it). Failed logins are
 * throttled per client address.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../../runtime/log";
import type { DiagramModel } from "../../../contracts/views/noc";
import { renderDatacenterSvg } from "./diagram";
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
}

const MAX_FAILURES_PER_MINUTE = 20;
const digest = (s: string) => createHash("sha256").update(s).digest();

export async function startNocWeb(options: NocWebOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const expected = digest(`${options.username}:${options.password}`);
  const failures = new Map<string, { count: number; since: number }>();

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
    const now = Date.now();
    const f = failures.get(client);
    if (f && now - f.since > 60_000) failures.delete(client);
    if ((failures.get(client)?.count ?? 0) >= MAX_FAILURES_PER_MINUTE) {
      res.writeHead(429, { "retry-after": "60", "content-type": "text/plain" }).end("too many failed logins; wait a minute\n");
      return;
    }
    if (!authorized(req)) {
      if (req.headers.authorization) {
        const entry = failures.get(client) ?? { count: 0, since: now };
        entry.count++;
        failures.set(client, entry);
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

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (error) {
      options.log.error({ err: error }, "NOC request failed");
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host ?? "0.0.0.0", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.log.info({ port }, "NOC page listening");
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
