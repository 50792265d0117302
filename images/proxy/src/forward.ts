/**
 * Forwarding one request: limits (rate, body size), route, cache, then an upstream chosen
 * by the pool; forwarding headers rewritten (headers.ts). A failure before the upstream
 * answered is retried on another server, but only for idempotent requests without a body:
 * repeating a POST could charge a card twice.
 *
 * The upstream exchange goes through undici's dispatch API, and each exchange is one object
 * of a class that is its own dispatch handler (`Exchange`): one allocation with a fixed shape
 * per request, where a handler object of closures was a dozen (bench/proxy/README.md).
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { PassThrough, Transform, pipeline, type Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { ResponseCache } from "./cache";
import { responseHeaders, upstreamHeaders } from "./headers";
import { Throttle, type BucketTable, type TokenBucket } from "./limits";
import type { UpstreamServer } from "./pool";
import type { Route, Router } from "./routes";
import { clientAddress } from "../../runtime/proxyProtocol";

/** Responses up to this size (by Content-Length) are collected and sent with one write. */
const SMALL_BODY = 64 * 1024;
/** Errors that mean the upstream took too long to answer (504), as opposed to failing (502). */
const TIMEOUTS = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

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

function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

function isIdempotent(method: string | undefined): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "PUT" || method === "DELETE" || method === "TRACE";
}

/** One request's forwarding: its limits, route, cache lookup and upstream attempts. */
class Forwarder {
  constructor(readonly options: ForwardOptions) {}

  plain(req: IncomingMessage, res: ServerResponse, status: number, message: string, extra: OutgoingHttpHeaders = {}, info = {}): void {
    const body = `${message}\n`;
    if (!res.headersSent) res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), ...extra });
    res.end(req.method === "HEAD" ? undefined : body);
    this.options.onResponse(req, status, Buffer.byteLength(body), info);
  }

  /** A response body to the client through the client's bandwidth bucket. */
  throttled(res: ServerResponse, bucket: TokenBucket, source: Readable | Buffer, done: (bytes: number) => void): void {
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
  }

  handle(req: IncomingMessage, res: ServerResponse, tls: boolean): void {
    const options = this.options;
    const client = clientAddress(req.socket);
    if (options.rate && !options.rate.get(client ?? "").tryTake()) return this.plain(req, res, 429, "too many requests", { "retry-after": "1" });
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > options.maxBodyBytes) return this.plain(req, res, 413, "request body too large", { connection: "close" });
    const route = options.router.match(req.headers.host, req.url ?? "/");
    if (!route) return this.plain(req, res, 404, "no route for this host and path");

    const cached = route.settings.cache ? options.cache.lookup(req) : undefined;
    if (cached) {
      const headers = cached.policy.responseHeaders() as OutgoingHttpHeaders;
      res.writeHead(cached.status, { ...responseHeaders(headers as IncomingHttpHeaders), "x-cache": "HIT" });
      const done = (bytes: number) => options.onResponse(req, cached.status, bytes, { route: route.id, cache: "HIT" });
      const bucket = req.method === "HEAD" ? undefined : options.bandwidth?.get(client ?? "");
      if (bucket) return this.throttled(res, bucket, cached.body, done);
      res.end(req.method === "HEAD" ? undefined : cached.body);
      return done(req.method === "HEAD" ? 0 : cached.body.length);
    }
    this.attempt(req, res, route, tls, client, undefined);
  }

  /** Sends the request to a server of the route's pool not in `tried` (undefined on the first attempt). */
  attempt(req: IncomingMessage, res: ServerResponse, route: Route, tls: boolean, client: string | undefined, tried: UpstreamServer[] | undefined): void {
    const server = route.pool.pick(tried);
    if (!server) return this.plain(req, res, tried ? 502 : 503, tried ? "bad gateway: upstreams failed" : "no healthy upstream", {}, { route: route.id });
    const exchange = new Exchange(this, req, res, route, tls, client, server, tried);
    try {
      server.connections.dispatch(
        {
          path: req.url ?? "/",
          method: req.method ?? "GET",
          headers: upstreamHeaders(req, tls, client ?? "unknown"),
          body: exchange.requestBody(),
          // Our own retry picks another server; undici must not repeat anything itself.
          idempotent: exchange.retriable,
        },
        exchange,
      );
    } catch (error) {
      // undici reports a request it refuses through onResponseError; this is a safety net.
      exchange.fail((error as NodeJS.ErrnoException).code);
    }
  }
}

/** One attempt at one upstream server: undici's dispatch handler for it, and what the client gets. */
class Exchange implements Dispatcher.DispatchHandler {
  readonly retriable: boolean;
  /** The upstream answered (or we answered for it): from here on, no retry. */
  private settled = false;
  private finished = false;
  private tooLarge = false;
  private streaming = false;
  private status = 0;
  private bytes = 0;
  private collectLimit = 0;
  private chunks: Buffer[] | undefined = undefined;
  private policy: ReturnType<ResponseCache["policyFor"]> = undefined;
  private through: PassThrough | undefined = undefined;
  private readonly withBody: boolean;

  constructor(
    private readonly forwarder: Forwarder,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly route: Route,
    private readonly tls: boolean,
    private readonly client: string | undefined,
    private readonly server: UpstreamServer,
    private readonly tried: UpstreamServer[] | undefined,
  ) {
    server.active++;
    this.withBody = hasBody(req);
    this.retriable = !this.withBody && isIdempotent(req.method);
  }

  /** The request body, counted against the limit (chunked bodies have no length up front); null without one. */
  requestBody(): Transform | null {
    if (!this.withBody) return null;
    const max = this.forwarder.options.maxBodyBytes;
    let received = 0;
    const body = new Transform({
      transform: (chunk: Buffer, _e, cb) => {
        received += chunk.length;
        if (received > max) {
          this.tooLarge = true;
          cb(Object.assign(new Error("request body too large"), { code: "EBODYLIMIT" }));
          return;
        }
        cb(null, chunk);
      },
    });
    pipeline(this.req, body, () => {});
    return body;
  }

  private finish(complete: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.server.active--;
    const { cache, onResponse } = this.forwarder.options;
    if (this.policy && this.chunks && complete && this.bytes <= cache.maxObjectBytes)
      cache.store(this.req, this.policy, this.status, Buffer.concat(this.chunks));
    onResponse(this.req, this.status, this.bytes, { route: this.route.id, upstream: this.server.id, ...(this.route.settings.cache ? { cache: "MISS" } : {}) });
  }

  fail(code: string | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.server.active--;
    this.finished = true;
    const { req, res, route, server, forwarder } = this;
    const info = { route: route.id, upstream: server.id };
    if (this.tooLarge) return forwarder.plain(req, res, 413, "request body too large", { connection: "close" }, info);
    // The client went away (an aborted upload, a closed connection) before the upstream
    // answered: the request failed because of the client, not the server. Counting it would
    // let anyone eject healthy upstreams by aborting a few POSTs; nobody is left to answer.
    if ((req.destroyed && !req.complete) || res.destroyed) {
      res.destroy();
      return forwarder.options.onResponse(req, 499, 0, info);
    }
    // undici refusing the request itself (a path or header it will not send) is the
    // client's fault, not the upstream's: no failure counted, no retry.
    if (code === "UND_ERR_INVALID_ARG" || code === "UND_ERR_NOT_SUPPORTED") return forwarder.plain(req, res, 400, "bad request", { connection: "close" }, info);
    route.pool.reportFailure(server);
    const tried = this.tried ? [...this.tried, server] : [server];
    if (this.retriable && tried.length <= forwarder.options.retries && !res.headersSent && !req.destroyed)
      return forwarder.attempt(req, res, route, this.tls, this.client, tried);
    const timeout = code !== undefined && TIMEOUTS.has(code);
    forwarder.plain(req, res, timeout ? 504 : 502, timeout ? "gateway timeout" : "bad gateway", {}, info);
  }

  onRequestStart(): void {}

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx: informational, the final answer follows
    const { req, res, route, server } = this;
    const options = this.forwarder.options;
    this.settled = true;
    this.status = statusCode;
    // 503 is often an application's deliberate answer (maintenance, overload of one path); 502/504 mean the server itself is broken.
    if (statusCode === 502 || statusCode === 504) route.pool.reportFailure(server);
    else route.pool.reportSuccess(server);
    if (res.destroyed) {
      // The client left while the upstream was working on its answer: let it go.
      controller.abort(new Error("client gone"));
      return;
    }
    const cacheRoute = route.settings.cache;
    this.policy = cacheRoute ? options.cache.policyFor(req, statusCode, headers) : undefined;
    const out = responseHeaders(headers);
    if (cacheRoute && req.method === "GET") out["x-cache"] = "MISS";
    res.writeHead(statusCode, out);
    if (this.policy) {
      this.chunks = [];
      this.collectLimit = options.cache.maxObjectBytes;
    }
    const declared = headers["content-length"] === undefined ? Infinity : Number(headers["content-length"]);
    const bucket = req.method === "HEAD" ? undefined : options.bandwidth?.get(this.client ?? "");
    if (bucket) {
      const through = (this.through = new PassThrough());
      through.on("close", () => {
        if (!through.writableFinished) controller.abort(new Error("client gone"));
      });
      this.forwarder.throttled(res, bucket, through, () => this.finish(controller.aborted === false));
      return;
    }
    if (declared <= SMALL_BODY) {
      // Collected and sent with the headers in one write when it ends.
      this.chunks ??= [];
      this.collectLimit = Infinity;
      return;
    }
    this.streaming = true;
    res.on("close", () => {
      if (!res.writableFinished && !this.finished) controller.abort(new Error("client gone"));
    });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.chunks && this.bytes <= this.collectLimit) this.chunks.push(chunk);
    const through = this.through;
    if (through) {
      if (!through.write(chunk)) {
        controller.pause();
        through.once("drain", () => controller.resume());
      }
    } else if (this.streaming && !this.res.write(chunk)) {
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
  }

  onResponseEnd(): void {
    if (this.through) return void this.through.end();
    const { req, res, chunks } = this;
    if (res.destroyed)
      this.bytes = 0; // the client left while a small body was being collected
    else if (this.streaming) res.end();
    else res.end(req.method === "HEAD" || !chunks ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    this.finish(true);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (!this.settled) return this.fail((error as NodeJS.ErrnoException).code);
    // Mid-body: the client sees a cut connection, as it must.
    if (this.through) this.through.destroy(error);
    this.res.destroy();
    this.finish(false);
  }
}

export function createForwarder(options: ForwardOptions): (req: IncomingMessage, res: ServerResponse, tls: boolean) => void {
  const forwarder = new Forwarder(options);
  return (req, res, tls) => forwarder.handle(req, res, tls);
}
