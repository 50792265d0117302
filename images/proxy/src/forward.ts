/**
 * Forwarding one request: limits (rate, body size), route, cache, then an upstream chosen
 * by the pool; X-Forwarded-For/-Proto/-Host added and hop-by-hop headers dropped (RFC 9110
 * §7.6.1). A failure before the upstream answered is retried on another server, but only
 * for idempotent requests without a body: repeating a POST could charge a card twice.
 *
 * The upstream exchange goes through undici's dispatch API (one handler object per
 * request, no response stream): the CPU profile at wrk -c32 had node:http's ClientRequest,
 * its Agent and the IncomingMessage stream as the largest costs of our own process.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { PassThrough, Transform, pipeline, type Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { ResponseCache } from "./cache";
import { Throttle, type BucketTable } from "./limits";
import type { UpstreamServer } from "./pool";
import type { Route, Router } from "./routes";
import { clientAddress } from "../../runtime/proxyProtocol";

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
/**
 * Request headers never passed upstream as the client sent them: hop-by-hop ones, the
 * forwarding headers we set ourselves (a client must not forge them), and Expect (node:http
 * has already answered the client's 100-continue).
 */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "expect"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
/** Responses up to this size (by Content-Length) are collected and sent with one write. */
const SMALL_BODY = 64 * 1024;

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

/** Lower-cased header names listed in a Connection header (they are hop-by-hop for this message). */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const listed = new Set<string>();
  for (const token of (Array.isArray(value) ? value.join(",") : value).toLowerCase().split(",")) listed.add(token.trim());
  return listed;
}

/** Request headers for the upstream as an object (the WebSocket handshake): hop-by-hop removed, forwarding headers added. */
export function forwardHeaders(req: IncomingMessage, tls: boolean, keepUpgrade = false): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = connectionListed(req.headers.connection);
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || ((HOP_BY_HOP.has(name) || listed?.has(name)) && !(keepUpgrade && name === "upgrade"))) continue;
    out[name] = value;
  }
  const client = clientAddress(req.socket) ?? "unknown";
  const prior = req.headers["x-forwarded-for"];
  out["x-forwarded-for"] = prior ? `${Array.isArray(prior) ? prior.join(", ") : prior}, ${client}` : client;
  out["x-forwarded-proto"] = tls ? "https" : "http";
  if (req.headers.host) out["x-forwarded-host"] = req.headers.host;
  if (keepUpgrade) out.connection = "Upgrade";
  return out;
}

/**
 * The same for a plain request, from the raw header lines (names as the client spelled
 * them, repeated lines kept) into the flat [name, value, ...] list undici takes.
 */
export function upstreamHeaders(req: IncomingMessage, tls: boolean): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let listed: Set<string> | undefined;
  let host: string | undefined;
  let prior: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === "connection") listed = connectionListed(raw[i + 1]);
    else if (lower === "host") host = raw[i + 1];
    else if (lower === "x-forwarded-for") prior = prior === undefined ? raw[i + 1] : `${prior}, ${raw[i + 1]}`;
  }
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (NOT_FORWARDED.has(lower) || listed?.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  const client = clientAddress(req.socket) ?? "unknown";
  out.push("x-forwarded-for", prior ? `${prior}, ${client}` : client, "x-forwarded-proto", tls ? "https" : "http");
  if (host) out.push("x-forwarded-host", host);
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const listed = connectionListed(headers.connection);
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && !listed?.has(name)) out[name] = value;
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/** Errors that mean the upstream took too long to answer (504), as opposed to failing (502). */
const TIMEOUTS = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

export function createForwarder(options: ForwardOptions) {
  const plain = (req: IncomingMessage, res: ServerResponse, status: number, message: string, extra: OutgoingHttpHeaders = {}, info = {}) => {
    const body = `${message}\n`;
    if (!res.headersSent) res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), ...extra });
    res.end(req.method === "HEAD" ? undefined : body);
    options.onResponse(req, status, Buffer.byteLength(body), info);
  };

  /** A response body to the client through the client's bandwidth bucket. */
  const throttled = (res: ServerResponse, bucket: NonNullable<ReturnType<BucketTable["get"]>>, source: Readable | Buffer, done: (bytes: number) => void) => {
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    if (Buffer.isBuffer(source)) {
      pipeline(counter, new Throttle(bucket), res, () => done(bytes));
      counter.end(source);
      return;
    }
    pipeline(source, counter, new Throttle(bucket), res, (err: NodeJS.ErrnoException | null) => {
      if (err && !res.writableEnded) res.destroy();
      done(bytes);
    });
  };

  return function handle(req: IncomingMessage, res: ServerResponse, tls: boolean): void {
    const client = clientAddress(req.socket) ?? "";
    if (options.rate && !options.rate.get(client).tryTake()) return plain(req, res, 429, "too many requests", { "retry-after": "1" });
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > options.maxBodyBytes) return plain(req, res, 413, "request body too large", { connection: "close" });
    const route = options.router.match(req.headers.host, req.url ?? "/");
    if (!route) return plain(req, res, 404, "no route for this host and path");

    const cached = route.settings.cache ? options.cache.lookup(req) : undefined;
    if (cached) {
      const headers = cached.policy.responseHeaders() as OutgoingHttpHeaders;
      res.writeHead(cached.status, { ...responseHeaders(headers as IncomingHttpHeaders), "x-cache": "HIT" });
      const done = (bytes: number) => options.onResponse(req, cached.status, bytes, { route: route.id, cache: "HIT" });
      const bucket = req.method === "HEAD" ? undefined : options.bandwidth?.get(client);
      if (bucket) return throttled(res, bucket, cached.body, done);
      res.end(req.method === "HEAD" ? undefined : cached.body);
      return done(req.method === "HEAD" ? 0 : cached.body.length);
    }
    attempt(req, res, route, tls, new Set(), 0);
  };

  function attempt(req: IncomingMessage, res: ServerResponse, route: Route, tls: boolean, tried: Set<UpstreamServer>, retry: number): void {
    const server = route.pool.pick(tried);
    if (!server) return plain(req, res, tried.size ? 502 : 503, tried.size ? "bad gateway: upstreams failed" : "no healthy upstream", {}, { route: route.id });
    tried.add(server);
    server.active++;
    const withBody = hasBody(req);
    const retriable = !withBody && IDEMPOTENT.has(req.method ?? "");
    const cacheRoute = route.settings.cache;
    /** The upstream answered (or we answered for it): from here on, no retry. */
    let settled = false;
    let finished = false;
    let tooLarge = false;
    let status = 0;
    let bytes = 0;
    let chunks: Buffer[] | undefined;
    let collectLimit = 0;
    let policy: ReturnType<ResponseCache["policyFor"]>;
    let through: PassThrough | undefined;
    let streaming = false;

    const finish = (complete: boolean) => {
      if (finished) return;
      finished = true;
      server.active--;
      if (policy && chunks && complete && bytes <= options.cache.maxObjectBytes) options.cache.store(req, policy, status, Buffer.concat(chunks));
      options.onResponse(req, status, bytes, { route: route.id, upstream: server.id, ...(cacheRoute ? { cache: "MISS" } : {}) });
    };
    const fail = (code: string | undefined) => {
      if (settled) return;
      settled = true;
      server.active--;
      finished = true;
      if (tooLarge) return plain(req, res, 413, "request body too large", { connection: "close" }, { route: route.id, upstream: server.id });
      // The client went away (an aborted upload, a closed connection) before the upstream
      // answered: the request failed because of the client, not the server. Counting it would
      // let anyone eject healthy upstreams by aborting a few POSTs; nobody is left to answer.
      if ((req.destroyed && !req.complete) || res.destroyed) {
        res.destroy();
        return options.onResponse(req, 499, 0, { route: route.id, upstream: server.id });
      }
      // undici refusing the request itself (a path or header it will not send) is the
      // client's fault, not the upstream's: no failure counted, no retry.
      if (code === "UND_ERR_INVALID_ARG" || code === "UND_ERR_NOT_SUPPORTED")
        return plain(req, res, 400, "bad request", { connection: "close" }, { route: route.id, upstream: server.id });
      route.pool.reportFailure(server);
      if (retriable && retry < options.retries && !res.headersSent && !req.destroyed) return attempt(req, res, route, tls, tried, retry + 1);
      const timeout = code !== undefined && TIMEOUTS.has(code);
      plain(req, res, timeout ? 504 : 502, timeout ? "gateway timeout" : "bad gateway", {}, { route: route.id, upstream: server.id });
    };

    let body: Transform | undefined;
    if (withBody) {
      // The request body, counted against the limit (chunked bodies have no length up front).
      let received = 0;
      body = new Transform({
        transform(chunk: Buffer, _e, cb) {
          received += chunk.length;
          if (received > options.maxBodyBytes) {
            tooLarge = true;
            cb(Object.assign(new Error("request body too large"), { code: "EBODYLIMIT" }));
            return;
          }
          cb(null, chunk);
        },
      });
      pipeline(req, body, () => {});
    }

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(controller, statusCode, headers) {
        if (statusCode < 200) return; // 1xx: informational, the final answer follows
        settled = true;
        status = statusCode;
        // 503 is often an application's deliberate answer (maintenance, overload of one path); 502/504 mean the server itself is broken.
        if (status === 502 || status === 504) route.pool.reportFailure(server);
        else route.pool.reportSuccess(server);
        if (res.destroyed) {
          // The client left while the upstream was working on its answer: let it go.
          controller.abort(new Error("client gone"));
          return;
        }
        const incoming = headers as IncomingHttpHeaders;
        policy = cacheRoute ? options.cache.policyFor(req, status, incoming) : undefined;
        const out = responseHeaders(incoming);
        if (cacheRoute && req.method === "GET") out["x-cache"] = "MISS";
        res.writeHead(status, out);
        if (policy) {
          chunks = [];
          collectLimit = options.cache.maxObjectBytes;
        }
        const declared = incoming["content-length"] === undefined ? Infinity : Number(incoming["content-length"]);
        const bucket = req.method === "HEAD" ? undefined : options.bandwidth?.get(clientAddress(req.socket) ?? "");
        if (bucket) {
          through = new PassThrough();
          through.on("close", () => {
            if (!through!.writableFinished) controller.abort(new Error("client gone"));
          });
          throttled(res, bucket, through, () => finish(controller.aborted === false));
          return;
        }
        if (declared <= SMALL_BODY) {
          // Collected and sent with the headers in one write when it ends.
          chunks ??= [];
          collectLimit = Infinity;
          return;
        }
        streaming = true;
        res.on("close", () => {
          if (!res.writableFinished && !finished) {
            controller.abort(new Error("client gone"));
          }
        });
      },
      onResponseData(controller, chunk) {
        bytes += chunk.length;
        if (chunks && bytes <= collectLimit) chunks.push(chunk);
        if (through) {
          if (!through.write(chunk)) {
            controller.pause();
            through.once("drain", () => controller.resume());
          }
        } else if (streaming && !res.write(chunk)) {
          controller.pause();
          res.once("drain", () => controller.resume());
        }
      },
      onResponseEnd() {
        if (through) return void through.end();
        if (res.destroyed)
          bytes = 0; // the client left while a small body was being collected
        else if (streaming) res.end();
        else res.end(req.method === "HEAD" || !chunks ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
        finish(true);
      },
      onResponseError(_controller, error) {
        if (!settled) return fail((error as NodeJS.ErrnoException).code);
        // Mid-body: the client sees a cut connection, as it must.
        if (through) through.destroy(error);
        res.destroy();
        finish(false);
      },
    };
    try {
      server.connections.dispatch(
        {
          path: req.url ?? "/",
          method: req.method ?? "GET",
          headers: upstreamHeaders(req, tls),
          body: body ?? null,
          // Our own retry above picks another server; undici must not repeat anything itself.
          idempotent: retriable,
        },
        handler,
      );
    } catch (error) {
      // undici reports a request it refuses through onResponseError; this is a safety net.
      fail((error as NodeJS.ErrnoException).code);
    }
  }
}
