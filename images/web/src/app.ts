/**
 * The web role assembled: sites from the settings (or one default site for the service's
 * own names), the HTTP and HTTPS listeners (runtime/httpServers.ts: each site's certificate
 * by SNI, reloaded when renewed), access logs, metrics. Node's HTTP server gives keep-alive;
 * its limits (header size, header and request timeouts) are set here so slow or oversized
 * clients are cut off.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Counter, Registry } from "prom-client";
import { combinedLine, createAccessLog } from "../../runtime/accessLog";
import { startHttpListeners } from "../../runtime/httpServers";
import { oneAtATime } from "../../runtime/pipelining";
import type { Logger } from "../../runtime/log";
import type { ReplicaConfig } from "../../runtime/replica";
import type { SiteSettings, WebSettings } from "../../../contracts/settings/web";
import { FileCache } from "./files";
import { createHandler } from "./handler";
import { customerSites, prepareSites, SiteTable } from "./sites";

export interface WebAppOptions {
  readonly config: ReplicaConfig<WebSettings>;
  readonly host: string;
  readonly httpPort: number;
  /** Undefined: no HTTPS listener. */
  readonly httpsPort?: number;
  /** The replica's certificate (used for names without a site certificate). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Where inline site files are written. */
  readonly scratchDir: string;
  /** Where the file service publishes customers' sites (the sites volume, read-only); needed when the config has `customerSites`. */
  readonly customerSitesDir?: string;
  readonly log: Logger;
  readonly registry?: Registry;
  /** Overrides of {@link LIMITS} (tests use short timeouts). */
  readonly limits?: Partial<Limits>;
}

export interface WebApp {
  readonly http: Server;
  readonly https?: Server;
  readonly httpPort: number;
  readonly httpsPort?: number;
  readonly registry: Registry;
  readonly sites: SiteTable;
  /** Re-reads the certificates now (they are also reloaded when their files change). */
  reloadCertificates(): Promise<void>;
  close(): Promise<void>;
}

/** Server limits: what a client may send and how slowly. */
export const LIMITS = { maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 };
export type Limits = typeof LIMITS;

/** With no sites configured, the service answers under its own names with a small page. */
export function defaultSites(config: ReplicaConfig<WebSettings>): SiteSettings[] {
  const names = [`${config.service}.${config.domain}`, ...Object.keys(config.addresses).map((net) => `${config.service}.${net}.${config.domain}`)];
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>${config.service}</title></head><body><h1>${config.service}.${config.domain}</h1><p>Served by Serverpark web.</p></body></html>\n`;
  return [
    {
      host: names[0]!.toLowerCase(),
      aliases: [...new Set(names.slice(1).map((n) => n.toLowerCase()))],
      files: { "index.html": page, "404.html": "<!doctype html><title>Not found</title><h1>Nothing here</h1>\n" },
      index: ["index.html"],
      errorPages: { "404": "404.html" },
      cacheControl: "public, max-age=60",
      default: true,
    },
  ];
}

/** The metrics key of all Host headers past the first 10,000 distinct ones (Node's parser refuses a NUL in a header). */
const FOLDED = "\0";

export async function startWebApp(options: WebAppOptions): Promise<WebApp> {
  const { config, log } = options;
  const settings = config.settings;
  const registry = options.registry ?? new Registry();
  const own = prepareSites(settings.sites.length > 0 ? settings.sites : defaultSites(config), options.scratchDir);
  const customers = config.customerSites ?? [];
  if (customers.length > 0 && options.customerSitesDir === undefined) throw new Error("the config names customer sites but no customer sites folder was given");
  const sites = new SiteTable([...own, ...customerSites(customers, options.customerSitesDir ?? "")]);
  // Responses are counted in plain numbers per request (prom-client hashes the label set on
  // every inc, even through a cached child) and handed over when the registry is scraped.
  // Keyed by the Host header as sent (a string the parser made, so no key is built per
  // request), then by status class.
  const answered = new Map<string, ({ site: string; status: string; count: number } | undefined)[]>();
  let sentBytes = 0;
  new Counter({
    name: "web_requests_total",
    help: "HTTP responses by site and status class",
    labelNames: ["site", "status"],
    registers: [registry],
    collect() {
      this.reset();
      for (const byClass of answered.values()) for (const slot of byClass) if (slot) this.inc({ site: slot.site, status: slot.status }, slot.count);
    },
  });
  new Counter({
    name: "web_response_bytes_total",
    help: "Response body bytes sent",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sentBytes);
    },
  });
  const clientErrors = new Counter({
    name: "web_client_errors_total",
    help: "Connections closed for protocol errors (bad or oversized requests, timeouts)",
    registers: [registry],
  });
  const access = createAccessLog("web", settings.accessLog, { replica: config.replica });

  const handler = createHandler({
    sites,
    files: new FileCache({ maxFileBytes: settings.cacheMaxFileBytes }),
    compressMinBytes: settings.compressMinBytes,
    replica: config.replica,
    onResponse: (req, status, sent) => {
      const host = req.headers.host ?? "";
      let byClass = answered.get(host);
      if (!byClass) {
        // Host headers are the client's: past 10,000 distinct ones, the unknown ones fold into "-".
        const folded = answered.size >= 10_000;
        byClass = answered.get(folded ? FOLDED : host);
        if (!byClass) answered.set(folded ? FOLDED : host, (byClass = new Array<undefined>(10).fill(undefined)));
      }
      const statusClass = Math.floor(status / 100) % 10;
      let slot = byClass[statusClass];
      if (!slot) {
        const site = byClass === answered.get(FOLDED) ? "-" : (sites.find(req.headers.host)?.host ?? "-");
        byClass[statusClass] = slot = { site, status: `${statusClass}xx`, count: 0 };
      }
      slot.count += 1;
      sentBytes += sent;
      if (access.enabled) access.write(combinedLine(req, status, sent));
    },
  });
  const failed = (req: IncomingMessage, res: ServerResponse, error: unknown) => {
    log.error({ err: error, url: req.url }, "request failed");
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end("internal error\n");
    else res.destroy();
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    try {
      handler(req, res)?.catch((error: unknown) => failed(req, res, error));
    } catch (error) {
      failed(req, res, error);
    }
  };

  const listeners = await startHttpListeners({
    host: options.host,
    httpPort: options.httpPort,
    ...(options.httpsPort !== undefined ? { httpsPort: options.httpsPort } : {}),
    ...(options.tls ? { defaultCertificate: options.tls } : {}),
    certificates: sites.sites.flatMap((site) => (site.tls ? [{ names: site.names, files: site.tls }] : [])),
    limits: { ...LIMITS, ...options.limits },
    // Pipelined requests one at a time per connection: bounded memory (runtime/pipelining.ts).
    handler: () => oneAtATime(listener),
    onClientError: () => clientErrors.inc(),
    noCertificateMessage: "no TLS certificate (replica or site): HTTPS listener disabled",
    log,
  });
  const { http, https, httpPort, httpsPort } = listeners;
  log.info({ httpPort, httpsPort, sites: sites.sites.map((s) => s.host) }, "web server listening");

  return {
    http,
    ...(https ? { https } : {}),
    httpPort,
    ...(httpsPort !== undefined ? { httpsPort } : {}),
    registry,
    sites,
    reloadCertificates: () => listeners.reloadCertificates(),
    close: async () => {
      await listeners.close();
      access.flush();
    },
  };
}
