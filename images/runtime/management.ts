/**
 * The management server every role runs beside its service port(s):
 *   GET /healthz  200 when the role's readiness check passes, 503 otherwise (JSON body)
 *   GET /metrics  Prometheus text: Node's default metrics plus the role's own
 * plus any small JSON routes a role adds (the host agent's /identity and /power).
 *
 * Who may call it (contracts/management.ts): in the datacenter the port listens on the
 * replica's management address with HTTPS and mutual TLS — only a client certificate from the
 * datacenter CA naming a management caller (the NOC, the operator) gets in, and each route is
 * authorised per caller (reads vs changes). Beside it, plain HTTP on 127.0.0.1 serves the
 * image's own HEALTHCHECK and `docker exec` (no other container can reach this loopback).
 * Without TLS files the server binds loopback only; a plain listener on any other address
 * must be asked for explicitly (`insecure`, for tests and bare `docker run`s).
 *
 * Plain node:http/https on purpose: a handful of routes needs no framework, and this keeps
 * every image's bundle small. Each server gets its own prom-client Registry (not the
 * global one) so tests can run several in one process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { isIP } from "node:net";
import { TLSSocket } from "node:tls";
import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import { BACKUP_CLIENT_OU } from "../../contracts/backups";
import { SITES_CLIENT_OU } from "../../contracts/sites";
import { defaultAccess, MANAGEMENT_CLIENT_OU, mayCall, type ManagementAccess } from "../../contracts/management";
import { closeServer, listen } from "./listen";
import type { Logger } from "./log";
import { createReloadingTls, type TlsFiles } from "./tls";

/** What a readiness check reports; `details` go into the /healthz body as they are. */
export interface Readiness {
  readonly ready: boolean;
  readonly details?: Record<string, unknown>;
}

export interface ManagementRequest {
  /** Who called: a management caller's name (contracts/management.ts), or "local" over loopback. */
  readonly caller?: string;
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
  /** What the route does; the callers allowed follow from it. @default read for GET, change otherwise */
  readonly access?: ManagementAccess;
  readonly handler: (request: ManagementRequest) => Reply | Promise<Reply>;
}

/**
 * A route that streams its request and response itself (the host agent's backup store, the
 * file role's published sites), for every path under `prefix`. It is reached only by the
 * clients whose caller name starts with `callers` (see callerOf) and over loopback; the
 * handler authorises each request itself.
 */
export interface StreamRoute {
  readonly method: "GET" | "PUT";
  readonly prefix: string;
  /** @default BACKUP_CALLER_PREFIX */
  readonly callers?: typeof BACKUP_CALLER_PREFIX | typeof SITES_CALLER_PREFIX;
  readonly stream: (req: IncomingMessage, res: ServerResponse, caller: string, url: URL) => Promise<void>;
}

/** The caller name of a backup client certificate: this prefix and its common name. */
export const BACKUP_CALLER_PREFIX = "backup:";
/** The caller name of a sites client certificate (contracts/sites.ts): this prefix and its common name. */
export const SITES_CALLER_PREFIX = "sites:";

export interface ManagementOptions {
  /** Port to listen on; 0 picks a free one (tests). @default 9100 */
  readonly port?: number;
  /**
   * The address of the network listener: the replica's management address in the datacenter
   * (images/runtime/bootstrap.ts `managementListener` picks it from `SP_MGMT_ADDRESS`).
   * @default "127.0.0.1"
   */
  readonly host?: string;
  /**
   * The replica's certificate, key and the datacenter CA: with them the network listener
   * speaks HTTPS and admits only management callers (contracts/management.ts).
   */
  readonly tls?: Required<TlsFiles>;
  /**
   * Serve plain HTTP, every caller trusted, on an address other than loopback. Only for tests
   * and bare `docker run`s; a datacenter replica always has TLS.
   */
  readonly insecure?: boolean;
  readonly log: Logger;
  /** Decides /healthz. Throwing, or taking longer than 2 s, counts as not ready. */
  readonly readiness: () => Readiness | Promise<Readiness>;
  /** The role's metrics live here; defaults are added to it. @default a new Registry */
  readonly registry?: Registry;
  readonly routes?: readonly Route[];
  readonly streams?: readonly StreamRoute[];
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

/** Thrown when the management server is asked to listen in a way that would admit anyone. */
export class ManagementConfigError extends Error {}

/** 127/8, ::1 and "localhost": addresses only this machine (or this container) can reach. */
export const isLoopbackAddress = (host: string) => host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));

export async function startManagementServer(options: ManagementOptions): Promise<ManagementServer> {
  const registry = options.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });
  const denied = new Counter({
    name: "serverpark_management_denied_total",
    help: "Management requests refused because the caller is not allowed the route",
    labelNames: ["access"] as const,
    registers: [registry],
  });
  const routes: Route[] = [{ method: "GET", path: "/healthz", handler: () => healthz(options.readiness) }, ...(options.routes ?? [])];
  const log = options.log;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, routes, options.streams ?? [], registry, (access) => denied.inc({ access }), log).catch((error: unknown) => {
      log.error({ err: error, path: req.url }, "management request failed");
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.destroy();
    });
  };
  // In the datacenter the port belongs to the management network only (the plan's exposure
  // matrix says so): bind the replica's management address, plus loopback for the image's
  // own HEALTHCHECK.
  const networkHost = options.host ?? "127.0.0.1";
  const wildcard = networkHost === "0.0.0.0" || networkHost === "::";
  if (!options.tls && !isLoopbackAddress(networkHost) && !options.insecure) {
    throw new ManagementConfigError(
      `refusing plain HTTP on the management address ${networkHost}: the replica's TLS files are missing, so any caller on that network could change it`,
    );
  }
  const servers: Server[] = [];
  const stops: (() => void)[] = [];
  let port = options.port ?? 9100;
  const timeouts = (server: Server) => {
    // A slow or idle client must not hold the management port for long.
    // A backup store receives copies of gigabytes: there a request may take up to an hour,
    // as long as it never idles for 30 s (only certificate holders get past the TLS handshake).
    server.requestTimeout = options.streams?.length ? 3_600_000 : 10_000;
    if (options.streams?.length) server.timeout = 30_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    server.maxConnections = 256;
    return server;
  };
  if (options.tls) {
    const tls = await createReloadingTls(options.tls, log, (material) => secure.setSecureContext({ ...material, minVersion: "TLSv1.2" }));
    stops.push(tls.watch());
    const secure: HttpsServer = createHttpsServer({ ...tls.material(), requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" }, handler);
    timeouts(secure);
    port = await listen(secure, port, networkHost);
    servers.push(secure);
    // On a wildcard (every address of the container: the Hetzner target publishes the port on
    // the planned address from outside it) there is TLS only, and the container's own health
    // check proves it is the container by presenting its own certificate (callerOf: "local").
    // On one address, plain HTTP on loopback beside it.
    if (!wildcard && networkHost !== "127.0.0.1") {
      const local = timeouts(createServer(handler));
      await listen(local, port, "127.0.0.1");
      servers.push(local);
    }
  } else {
    for (const host of [...new Set([networkHost, "127.0.0.1"])]) {
      if (host === "127.0.0.1" && wildcard) continue; // the wildcard covers it
      const server = timeouts(createServer(handler));
      port = await listen(server, port, host); // the second listener shares a port-0 pick
      servers.push(server);
    }
  }
  log.info({ port, host: networkHost, tls: !!options.tls }, "management server listening");

  return {
    server: servers[0]!,
    registry,
    port,
    close: async () => {
      stops.forEach((stop) => stop());
      await Promise.all(servers.map(closeServer));
    },
  };
}

/**
 * The caller of a request: over mutual TLS, the common name of a verified management client
 * certificate (anything else — a service certificate, say — is nobody); over plain HTTP,
 * "local" (loopback, or a listener the operator explicitly made insecure).
 */
export function callerOf(req: IncomingMessage): string | undefined {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) return "local";
  if (!socket.authorized) return undefined;
  const peer = socket.getPeerCertificate();
  // The container's own certificate, from a loopback peer: only the container holds its key.
  const own = socket.getCertificate() as { fingerprint256?: string } | null;
  if (own?.fingerprint256 && peer.fingerprint256 === own.fingerprint256 && isLoopbackAddress((socket.remoteAddress ?? "").replace(/^::ffff:/, "")))
    return "local";
  const subject = peer.subject as Record<string, string | string[] | undefined> | undefined;
  const units = [subject?.OU ?? []].flat();
  const name = subject?.CN;
  if (typeof name !== "string") return undefined;
  // A backup client (contracts/backups.ts) is no management caller: its name cannot match a grant.
  if (units.includes(BACKUP_CLIENT_OU)) return `${BACKUP_CALLER_PREFIX}${name}`;
  if (units.includes(SITES_CLIENT_OU)) return `${SITES_CALLER_PREFIX}${name}`;
  return units.includes(MANAGEMENT_CLIENT_OU) ? name : undefined;
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

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  routes: Route[],
  streams: readonly StreamRoute[],
  registry: Registry,
  onDenied: (access: ManagementAccess) => void,
  log: Logger,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://management");
  const method = req.method ?? "GET";
  const caller = callerOf(req);
  const allowed = (access: ManagementAccess) => {
    if (caller === "local" || (caller !== undefined && mayCall(caller, access))) return true;
    onDenied(access);
    log.warn(
      { event: "management-denied", caller: caller ?? null, remote: req.socket.remoteAddress, method, path: url.pathname },
      "management request refused",
    );
    send(res, 403, { error: `${caller ? `caller ${caller}` : "this certificate"} may not ${access === "read" ? "read" : "change"} ${url.pathname}` });
    return false;
  };

  const stream = streams.find((r) => r.method === method && url.pathname.startsWith(r.prefix));
  if (stream && caller !== undefined && (caller === "local" || caller.startsWith(stream.callers ?? BACKUP_CALLER_PREFIX)))
    return stream.stream(req, res, caller, url);

  if (url.pathname === "/metrics" && (method === "GET" || method === "HEAD")) {
    if (!allowed("read")) return;
    const text = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType });
    res.end(method === "HEAD" ? undefined : text);
    return;
  }

  // Refused before the path is even looked up: a caller without the grant learns nothing of the routes.
  if (!allowed(defaultAccess(method))) return;
  const candidates = routes.filter((r) => r.path === url.pathname);
  const route = candidates.find((r) => r.method === method || (method === "HEAD" && r.method === "GET"));
  if (!route) {
    if (candidates.length === 0) return send(res, 404, { error: `no such path: ${url.pathname}` });
    res.setHeader("allow", candidates.map((r) => r.method).join(", "));
    return send(res, 405, { error: `${method} not allowed on ${url.pathname}` });
  }

  if (route.access && route.access !== defaultAccess(method) && !allowed(route.access)) return;
  try {
    const body = await readJsonBody(req);
    const reply = await route.handler({ caller, method, url, body });
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
