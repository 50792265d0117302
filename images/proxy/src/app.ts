/**
 * The proxy role assembled: router and pools (with health checks), response cache,
 * per-client limits, the HTTP and HTTPS listeners (runtime/httpServers.ts: TLS terminated
 * with a certificate chosen by SNI, reloaded when renewed), WebSocket pass-through on both,
 * access logs and metrics.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { BlockList, isIPv6 } from "node:net";
import { Counter, Gauge, Registry } from "prom-client";
import { combinedLine, createAccessLog } from "../../runtime/accessLog";
import { startHttpListeners } from "../../runtime/httpServers";
import { clientAddress, type ProxyProtocolOptions } from "../../runtime/proxyProtocol";
import { oneAtATime } from "../../runtime/pipelining";
import type { Logger } from "../../runtime/log";
import type { ReplicaConfig } from "../../runtime/replica";
import type { ProxySettings } from "../../../contracts/settings/proxy";
import { AcmeIssuer, PEER_HEADER } from "./acme";
import { ResponseCache } from "./cache";
import { createForwarder } from "./forward";
import { BucketTable } from "./limits";
import { Router } from "./routes";
import { createUpgradeHandler, WEBSOCKET_LIMITS, type WebSocketLimits } from "./websocket";

/** The PROXY protocol's trusted peers (the balancer's networks) as a matcher, and its refusals logged. */
function proxyProtocolOptions(settings: NonNullable<ProxySettings["proxyProtocol"]>, log: Logger): ProxyProtocolOptions {
  const from = new BlockList();
  for (const cidr of settings.from) {
    const [address, bits] = cidr.split("/") as [string, string];
    from.addSubnet(address, Number(bits), isIPv6(address) ? "ipv6" : "ipv4");
  }
  return {
    trusted: (address) => from.check(address, isIPv6(address) ? "ipv6" : "ipv4"),
    headerTimeoutMs: settings.headerTimeoutMs,
    onBadHeader: (reason, peer) => log.warn({ event: "proxy-protocol-refused", peer, reason }, "connection from the load balancer dropped: bad PROXY header"),
  };
}

export interface ProxyAppOptions {
  readonly config: ReplicaConfig<ProxySettings>;
  readonly host: string;
  readonly httpPort: number;
  readonly httpsPort?: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly log: Logger;
  readonly registry?: Registry;
  /** Where ACME state lives when the view has `acme` (contracts/paths.ts PROXY_ACME_PATH); backoff overrides for tests. */
  readonly acme?: { readonly dir: string; readonly backoffMinMs?: number; readonly backoffMaxMs?: number; readonly ownAddresses?: readonly string[] };
  /** Node server limits; tests shorten the timeouts. */
  readonly limits?: Partial<typeof LIMITS>;
  /** Overrides of {@link WEBSOCKET_LIMITS} (tests shorten the idle timeout). */
  readonly websocket?: Partial<WebSocketLimits>;
}

export interface ProxyApp {
  readonly http: Server;
  readonly https?: Server;
  readonly httpPort: number;
  readonly httpsPort?: number;
  readonly router: Router;
  readonly registry: Registry;
  /** Whether each listener accepts connections (runtime/httpServers.ts: with the PROXY protocol, not `http.listening`). */
  listening(): { readonly http: boolean; readonly https: boolean };
  /** Re-reads the certificates now (they are also reloaded when their files change). */
  reloadCertificates(): Promise<void>;
  close(): Promise<void>;
}

export const LIMITS = { maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 };

export async function startProxyApp(options: ProxyAppOptions): Promise<ProxyApp> {
  const { config, log } = options;
  const settings = config.settings;
  const registry = options.registry ?? new Registry();
  // Per-request counts are plain numbers until prom-client collects them: its `labels().inc()`
  // hashes and validates the label values on every call, on the hot path.
  const requestCounts = new Map<string, number[]>();
  const cacheCounts = new Map<string, number>();
  new Counter({
    name: "proxy_requests_total",
    help: "Responses by route and status class",
    labelNames: ["route", "status"],
    registers: [registry],
    collect() {
      for (const [route, byClass] of requestCounts)
        for (const [statusClass, n] of byClass.entries()) {
          if (!n) continue;
          this.inc({ route, status: `${statusClass}xx` }, n);
          byClass[statusClass] = 0;
        }
    },
  });
  new Counter({
    name: "proxy_cache_total",
    help: "Cache lookups by result",
    labelNames: ["result"],
    registers: [registry],
    collect() {
      for (const [result, n] of cacheCounts) if (n) this.inc({ result }, n);
      cacheCounts.clear();
    },
  });
  const healthy = new Gauge({
    name: "proxy_upstream_available",
    help: "1 when an upstream may take traffic (healthy and not ejected)",
    labelNames: ["route", "upstream"],
    registers: [registry],
  });
  const access = createAccessLog("proxy", settings.accessLog, { replica: config.replica });

  const router = new Router(config, log, (pool, server) =>
    healthy.set({ route: pool.name, upstream: server.id }, server.healthy && server.ejectedUntil <= Date.now() ? 1 : 0),
  );
  for (const r of router.routes) for (const s of r.pool.servers) healthy.set({ route: r.id, upstream: s.id }, 1);
  const onResponse = (req: IncomingMessage, status: number, bytes: number, info: { route?: string; upstream?: string; cache?: string } = {}) => {
    const route = info.route ?? "-";
    let byClass = requestCounts.get(route);
    if (!byClass) requestCounts.set(route, (byClass = new Array<number>(10).fill(0)));
    byClass[Math.floor(status / 100) % 10]!++;
    if (info.cache) cacheCounts.set(info.cache, (cacheCounts.get(info.cache) ?? 0) + 1);
    if (access.enabled) access.write(combinedLine(req, status, bytes), info);
  };
  const rate = settings.rateLimit.requestsPerSecond > 0 ? new BucketTable(settings.rateLimit.requestsPerSecond, settings.rateLimit.burst) : undefined;
  const forward = createForwarder({
    router,
    cache: new ResponseCache(settings.cache.maxBytes, settings.cache.maxObjectBytes),
    retries: settings.retries,
    connectTimeoutMs: settings.connectTimeoutMs,
    upstreamTimeoutMs: settings.upstreamTimeoutMs,
    maxBodyBytes: settings.maxBodyBytes,
    ...(rate ? { rate } : {}),
    ...(settings.bandwidth.bytesPerSecond > 0 ? { bandwidth: new BucketTable(settings.bandwidth.bytesPerSecond, settings.bandwidth.burstBytes) } : {}),
    onResponse,
  });
  // Upgrades share the request buckets: a WebSocket handshake is a request like any other.
  const upgrade = createUpgradeHandler({
    router,
    connectTimeoutMs: settings.connectTimeoutMs,
    ...(rate ? { rate } : {}),
    limits: { ...WEBSOCKET_LIMITS, ...options.websocket },
    onDone: (req, status, upstream) => onResponse(req, status, 0, upstream ? { upstream } : {}),
  });

  // Customers' certificates from an ACME CA: HTTP-01 answered here, certificates served by SNI.
  if (config.acme && !options.acme) throw new Error("the view asks for ACME certificates but no ACME directory was given");
  const ownAddresses = Object.values(config.addresses);
  const acme = config.acme && options.acme ? new AcmeIssuer({ view: config.acme, log, registry, ownAddresses, ...options.acme }) : undefined;
  await acme?.start();

  // A token this replica did not issue may be another replica's order: asked of the peers, unless a peer is asking.
  // Asking peers costs them requests: it takes a token from the client's request bucket like a forwarded request.
  const answerChallenge = async (req: IncomingMessage, res: ServerResponse, own: string | null) => {
    const ask = own === null && req.headers[PEER_HEADER] === undefined;
    if (ask && rate && !rate.get(clientAddress(req.socket) ?? "").tryTake()) {
      onResponse(req, 429, 0, { route: "acme-challenge" });
      return void res.writeHead(429, { "retry-after": "1" }).end();
    }
    const answer = own ?? (ask ? await acme!.fromPeers(req.headers.host!, req.url!) : undefined);
    onResponse(req, answer ? 200 : 404, answer?.length ?? 0, { route: "acme-challenge" });
    res.writeHead(answer ? 200 : 404, { "content-type": "text/plain" }).end(answer ?? "");
  };

  // Pipelined requests one at a time per connection: bounded memory (runtime/pipelining.ts).
  const handler = (tls: boolean) =>
    oneAtATime((req: IncomingMessage, res: ServerResponse) => {
      const answer = acme?.challenge(req.headers.host, req.url ?? "/");
      if (answer !== undefined) return void answerChallenge(req, res, answer);
      try {
        forward(req, res, tls);
      } catch (error) {
        log.error({ err: error, url: req.url }, "proxy request failed");
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      }
    });

  const listeners = await startHttpListeners({
    host: options.host,
    httpPort: options.httpPort,
    ...(options.httpsPort !== undefined ? { httpsPort: options.httpsPort } : {}),
    ...(options.tls ? { defaultCertificate: options.tls } : {}),
    certificates: settings.certificates.map((c) => ({ names: c.hosts, files: { certFile: c.certFile, keyFile: c.keyFile } })),
    ...(acme ? { sniContext: (name: string) => acme.context(name) } : {}),
    limits: { ...LIMITS, ...options.limits },
    handler,
    onUpgrade: upgrade,
    noCertificateMessage: "no TLS certificate: HTTPS listener disabled",
    log,
    ...(settings.proxyProtocol ? { proxyProtocol: proxyProtocolOptions(settings.proxyProtocol, log) } : {}),
  });
  const { http, https, httpPort, httpsPort } = listeners;
  for (const r of router.routes) r.pool.startHealthChecks();
  log.info(
    { httpPort, httpsPort, routes: router.routes.map((r) => ({ route: r.id, upstreams: r.pool.servers.map((s) => `${s.host}:${s.port}`) })) },
    "proxy listening",
  );

  return {
    http,
    ...(https ? { https } : {}),
    httpPort,
    ...(httpsPort !== undefined ? { httpsPort } : {}),
    router,
    registry,
    listening: () => listeners.listening(),
    reloadCertificates: () => listeners.reloadCertificates(),
    close: async () => {
      acme?.close();
      await listeners.close();
      for (const r of router.routes) r.pool.close();
      access.flush();
    },
  };
}
