/**
 * Forwarding one request: limits (rate, body size), route, cache, then an upstream chosen
 * by the pool; X-Forwarded-For/-Proto/-Host added and hop-by-hop headers dropped (RFC 9110
 * §7.6.1). A failure before the upstream answered is retried on another server, but only
 * for idempotent requests without a body: repeating a POST could charge a card twice.
 */
import { request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import { Transform, pipeline } from "node:stream";
import type { ResponseCache } from "./cache";
import { Throttle, type BucketTable } from "./limits";
import type { UpstreamServer } from "./pool";
import type { Route, Router } from "./routes";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

export interface ForwardOptions {
  readonly router: Router;
  readonly cache: ResponseCache;
  readonly retries: number;
  readonly connectTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  readonly maxBodyBytes: number;
  /** Undefined when rate limiting is off. */
  readonly rate?: BucketTable;
  /** Undefined when bandwidth limiting is off. */
  readonly bandwidth?: BucketTable;
  readonly onResponse: (req: IncomingMessage, status: number, bytes: number, info: { route?: string; upstream?: string; cache?: string }) => void;
}

/** Request headers for the upstream: hop-by-hop removed, forwarding headers added. */
export function forwardHeaders(req: IncomingMessage, tls: boolean, keepUpgrade = false): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = new Set(
    (req.headers.connection ?? "")
      .toLowerCase()
      .split(",")
      .map((s) => s.trim()),
  );
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || ((HOP_BY_HOP.has(name) || listed.has(name)) && !(keepUpgrade && name === "upgrade"))) continue;
    out[name] = value;
  }
  const client = req.socket?.remoteAddress ?? "unknown";
  const prior = req.headers["x-forwarded-for"];
  out["x-forwarded-for"] = prior ? `${Array.isArray(prior) ? prior.join(", ") : prior}, ${client}` : client;
  out["x-forwarded-proto"] = tls ? "https" : "http";
  if (req.headers.host) out["x-forwarded-host"] = req.headers.host;
  if (keepUpgrade) out.connection = "Upgrade";
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = new Set(
    (headers.connection ?? "")
      .toLowerCase()
      .split(",")
      .map((s) => s.trim()),
  );
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && !listed.has(name)) out[name] = value;
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

export function createForwarder(options: ForwardOptions) {
  const plain = (req: IncomingMessage, res: ServerResponse, status: number, message: string, extra: OutgoingHttpHeaders = {}, info = {}) => {
    const body = `${message}\n`;
    if (!res.headersSent) res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), ...extra });
    res.end(req.method === "HEAD" ? undefined : body);
    options.onResponse(req, status, Buffer.byteLength(body), info);
  };

  /** Response body to the client, through the client's bandwidth bucket when limiting is on. */
  const sendBody = (req: IncomingMessage, res: ServerResponse, source: IncomingMessage | Buffer, done: (bytes: number) => void) => {
    if (res.destroyed) {
      // The client left while the upstream was answering: drop the rest (piping into a
      // destroyed stream throws), and let the upstream connection go.
      if (!Buffer.isBuffer(source)) source.destroy();
      return done(0);
    }
    const bucket = options.bandwidth?.get(req.socket?.remoteAddress ?? "");
    if (Buffer.isBuffer(source)) {
      if (!bucket) {
        res.end(req.method === "HEAD" ? undefined : source);
        return done(req.method === "HEAD" ? 0 : source.length);
      }
      const throttle = new Throttle(bucket);
      pipeline(throttle, res, () => done(source.length));
      throttle.end(source);
      return;
    }
    let bytes = 0;
    if (!bucket) {
      // The common case without stream.pipeline(): its per-call abort signal and end-of-stream
      // bookkeeping showed up at ~5% of a profile under load; plain pipe plus two listeners suffice.
      let finished = false;
      const finish = (failed: boolean) => {
        if (finished) return;
        finished = true;
        if (failed && !res.writableEnded) res.destroy();
        done(bytes);
      };
      source.on("data", (chunk: Buffer) => (bytes += chunk.length));
      source.on("end", () => finish(false));
      source.on("error", () => finish(true));
      res.on("close", () => {
        if (!source.complete) source.destroy();
        finish(!res.writableFinished);
      });
      source.pipe(res);
      return;
    }
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    pipeline(source, counter, new Throttle(bucket), res, (err: NodeJS.ErrnoException | null) => {
      if (err && !res.writableEnded) res.destroy();
      done(bytes);
    });
  };

  return function handle(req: IncomingMessage, res: ServerResponse, tls: boolean): void {
    const client = req.socket?.remoteAddress ?? "";
    if (options.rate && !options.rate.get(client).tryTake()) return plain(req, res, 429, "too many requests", { "retry-after": "1" });
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > options.maxBodyBytes) return plain(req, res, 413, "request body too large", { connection: "close" });
    const route = options.router.match(req.headers.host, req.url ?? "/");
    if (!route) return plain(req, res, 404, "no route for this host and path");

    const cached = route.settings.cache ? options.cache.lookup(req) : undefined;
    if (cached) {
      const headers = cached.policy.responseHeaders() as OutgoingHttpHeaders;
      res.writeHead(cached.status, { ...responseHeaders(headers as IncomingHttpHeaders), "x-cache": "HIT" });
      return sendBody(req, res, cached.body, (bytes) => options.onResponse(req, cached.status, bytes, { route: route.id, cache: "HIT" }));
    }
    attempt(req, res, route, tls, new Set(), 0);
  };

  function attempt(req: IncomingMessage, res: ServerResponse, route: Route, tls: boolean, tried: Set<UpstreamServer>, retry: number): void {
    const server = route.pool.pick(tried);
    if (!server) return plain(req, res, tried.size ? 502 : 503, tried.size ? "bad gateway: upstreams failed" : "no healthy upstream", {}, { route: route.id });
    tried.add(server);
    server.active++;
    let settled = false;
    const retriable = IDEMPOTENT.has(req.method ?? "") && !hasBody(req);
    const fail = (status: number, message: string) => {
      if (settled) return;
      settled = true;
      server.active--;
      route.pool.reportFailure(server);
      if (retriable && retry < options.retries && !res.headersSent && !req.destroyed) return attempt(req, res, route, tls, tried, retry + 1);
      plain(req, res, status, message, {}, { route: route.id, upstream: server.id });
    };

    const upstream = request({
      host: server.host,
      port: server.port,
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req, tls),
      agent: server.agent,
      timeout: options.upstreamTimeoutMs,
    });
    // The connect timeout starts when the agent hands out a socket: time spent queued behind
    // other requests to the same upstream is not a connect failure.
    let connectTimer: NodeJS.Timeout | undefined;
    upstream.on("socket", (socket) => {
      // Small header and body writes must not wait for delayed ACKs (Nagle): 40 ms each.
      socket.setNoDelay(true);
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => upstream.destroy(Object.assign(new Error("connect timeout"), { code: "ECONNTIMEOUT" })), options.connectTimeoutMs);
      socket.once("connect", () => clearTimeout(connectTimer));
    });
    upstream.on("timeout", () => upstream.destroy(Object.assign(new Error("upstream timeout"), { code: "ETIMEDOUT" })));
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (settled) return void res.destroy(); // mid-body: the client sees a cut connection, as it must
      fail(error.code === "ETIMEDOUT" ? 504 : 502, error.code === "ETIMEDOUT" ? "gateway timeout" : "bad gateway");
    });
    upstream.on("response", (up) => {
      clearTimeout(connectTimer);
      const status = up.statusCode ?? 502;
      // 503 is often an application's deliberate answer (maintenance, overload of one path); 502/504 mean the server itself is broken.
      if (status === 502 || status === 504) route.pool.reportFailure(server);
      else route.pool.reportSuccess(server);
      settled = true;
      const policy = route.settings.cache ? options.cache.policyFor(req, status, up.headers) : undefined;
      res.writeHead(status, { ...responseHeaders(up.headers), ...(route.settings.cache && req.method === "GET" ? { "x-cache": "MISS" } : {}) });
      const chunks: Buffer[] | undefined = policy ? [] : undefined;
      let size = 0;
      if (chunks) {
        up.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= options.cache.maxObjectBytes) chunks.push(c);
        });
      }
      sendBody(req, res, up, (bytes) => {
        server.active--;
        if (policy && chunks && up.complete && size <= options.cache.maxObjectBytes) options.cache.store(req, policy, status, Buffer.concat(chunks));
        options.onResponse(req, status, bytes, { route: route.id, upstream: server.id, ...(policy || route.settings.cache ? { cache: "MISS" } : {}) });
      });
    });

    if (!hasBody(req)) return void upstream.end();
    // The request body, counted against the limit (chunked bodies have no length up front).
    let received = 0;
    const limiter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        received += chunk.length;
        if (received > options.maxBodyBytes) {
          cb(Object.assign(new Error("request body too large"), { code: "EBODYLIMIT" }));
          return;
        }
        cb(null, chunk);
      },
    });
    pipeline(req, limiter, upstream, (err: NodeJS.ErrnoException | null | undefined) => {
      if (err?.code === "EBODYLIMIT" && !settled) {
        settled = true;
        server.active--;
        upstream.destroy();
        plain(req, res, 413, "request body too large", { connection: "close" }, { route: route.id, upstream: server.id });
      }
    });
  }
}
