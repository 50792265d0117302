/**
 * The management server every role runs beside its service port(s):
 *   GET /healthz  200 when the role's readiness check passes, 503 otherwise (JSON body)
 *   GET /metrics  Prometheus text: Node's default metrics plus the role's own
 * plus any small JSON routes a role adds (the host agent's /identity and /power).
 *
 * Plain node:http on purpose: a handful of routes needs no framework, and this keeps
 * every image's bundle small. Each server gets its own prom-client Registry (not the
 * global one) so tests can run several in one process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { collectDefaultMetrics, Registry } from "prom-client";
import { closeServer, listen } from "./listen";
import type { Logger } from "./log";

/** What a readiness check reports; `details` go into the /healthz body as they are. */
export interface Readiness {
  readonly ready: boolean;
  readonly details?: Record<string, unknown>;
}

export interface ManagementRequest {
  readonly method: string;
  readonly url: URL;
  /** Parsed JSON body for requests that have one, otherwise undefined. */
  readonly body: unknown;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
}

/** Throw from a route handler to answer `status` with `{ error: message }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Route {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly path: string;
  readonly handler: (request: ManagementRequest) => Reply | Promise<Reply>;
}

export interface ManagementOptions {
  /** Port to listen on; 0 picks a free one (tests). @default 9100 */
  readonly port?: number;
  /** @default "0.0.0.0" */
  readonly host?: string;
  readonly log: Logger;
  /** Decides /healthz. Throwing, or taking longer than 2 s, counts as not ready. */
  readonly readiness: () => Readiness | Promise<Readiness>;
  /** The role's metrics live here; defaults are added to it. @default a new Registry */
  readonly registry?: Registry;
  readonly routes?: readonly Route[];
}

export interface ManagementServer {
  readonly server: Server;
  readonly registry: Registry;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

const READINESS_TIMEOUT_MS = 2_000;
const MAX_BODY_BYTES = 64 * 1024;

export async function startManagementServer(options: ManagementOptions): Promise<ManagementServer> {
  const registry = options.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });
  const routes: Route[] = [{ method: "GET", path: "/healthz", handler: () => healthz(options.readiness) }, ...(options.routes ?? [])];

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, routes, registry).catch((error: unknown) => {
      options.log.error({ err: error, path: req.url }, "management request failed");
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.destroy();
    });
  };
  // In the datacenter the port belongs to the management network only (the plan's exposure
  // matrix says so): bind the replica's management address, plus loopback for the image's
  // own HEALTHCHECK. Elsewhere (tests, a bare `docker run`) bind as asked.
  const managementAddress = process.env.SP_MGMT_ADDRESS;
  const hosts = managementAddress ? [...new Set([managementAddress, "127.0.0.1"])] : [options.host ?? "0.0.0.0"];
  const servers: Server[] = [];
  let port = options.port ?? 9100;
  for (const host of hosts) {
    const server = createServer(handler);
    // A slow or idle client must not hold the management port for long.
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    port = await listen(server, port, host); // the second listener shares a port-0 pick
    servers.push(server);
  }
  options.log.info({ port, hosts }, "management server listening");

  return {
    server: servers[0]!,
    registry,
    port,
    close: () => Promise.all(servers.map(closeServer)).then(() => undefined),
  };
}

async function healthz(readiness: ManagementOptions["readiness"]): Promise<Reply> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`readiness check took over ${READINESS_TIMEOUT_MS} ms`)), READINESS_TIMEOUT_MS);
    });
    const result = await Promise.race([Promise.resolve(readiness()), timeout]);
    return { status: result.ready ? 200 : 503, body: { status: result.ready ? "ok" : "unavailable", ...result.details } };
  } catch (error) {
    return { status: 503, body: { status: "unavailable", error: (error as Error).message } };
  } finally {
    clearTimeout(timer);
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, routes: Route[], registry: Registry): Promise<void> {
  const url = new URL(req.url ?? "/", "http://management");
  const method = req.method ?? "GET";

  if (url.pathname === "/metrics" && (method === "GET" || method === "HEAD")) {
    const text = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType });
    res.end(method === "HEAD" ? undefined : text);
    return;
  }

  const candidates = routes.filter((r) => r.path === url.pathname);
  const route = candidates.find((r) => r.method === method || (method === "HEAD" && r.method === "GET"));
  if (!route) {
    if (candidates.length === 0) return send(res, 404, { error: `no such path: ${url.pathname}` });
    res.setHeader("allow", candidates.map((r) => r.method).join(", "));
    return send(res, 405, { error: `${method} not allowed on ${url.pathname}` });
  }

  try {
    const body = await readJsonBody(req);
    const reply = await route.handler({ method, url, body });
    send(res, reply.status, reply.body, method === "HEAD");
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    send(res, error.status, { error: error.message });
  }
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    throw new HttpError(400, "body is not valid JSON");
  }
}

function send(res: ServerResponse, status: number, body: unknown, headOnly = false): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(headOnly ? undefined : text);
}
