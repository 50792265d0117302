/**
 * Upstreams for the proxy tests: small node:http servers on loopback, each naming itself
 * in `x-served-by`, with routes for caching, forwarded headers, bodies, a large download
 * and a WebSocket echo; and a proxy in front of them.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { createLogger } from "../../images/runtime/log";
import { join } from "node:path";
import { loadPlan } from "../../cli/stack";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { parseReplicaConfig } from "../../images/runtime/replica";
import { proxySettingsSchema } from "../../contracts/settings/proxy";
import type { ResolvedRoute } from "../../contracts/views/proxy";
import { startProxyApp, type ProxyApp } from "../../images/proxy/src/app";
import type { WebSocketLimits } from "../../images/proxy/src/websocket";

export interface Upstream {
  readonly id: string;
  readonly server: Server;
  readonly port: number;
  hits: number;
  /** Answers every request waiting on `/hold` (held until the test says so). */
  release(): void;
  close(): Promise<void>;
}

const ROOT = join(__dirname, "..", "..");

export const BIG = Buffer.alloc(512 * 1024, "z");

export async function startUpstream(id: string, port = 0): Promise<Upstream> {
  let counter = 0;
  const state = { hits: 0 };
  const held: (() => void)[] = [];
  const server = createServer((req, res) => {
    // The api pool is mounted under /api/; health checks ("/") are not counted as hits.
    const url = (req.url ?? "/").replace(/^\/api(?=\/)/, "");
    if (req.headers["user-agent"] !== "serverpark-proxy-healthcheck") state.hits++;
    const send = (status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "x-served-by": id, "content-length": Buffer.byteLength(body), ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (url === "/cached") return send(200, `cached body ${++counter} from ${id}`, { "cache-control": "public, max-age=60" });
    if (url === "/private") return send(200, `private ${++counter}`, { "cache-control": "private, max-age=60" });
    if (url === "/headers")
      return send(
        200,
        JSON.stringify({
          xff: req.headers["x-forwarded-for"],
          proto: req.headers["x-forwarded-proto"],
          host: req.headers["x-forwarded-host"],
          connection: req.headers.connection,
          te: req.headers.te,
        }),
        { "content-type": "application/json" },
      );
    if (url === "/big") return send(200, BIG, { "cache-control": "no-store" });
    if (url === "/fail") return send(503, "down", { "cache-control": "no-store" });
    if (url === "/echo") {
      let size = 0;
      req.on("data", (c: Buffer) => (size += c.length));
      req.on("end", () => send(200, `got ${size} bytes via ${req.method}`));
      return;
    }
    if (url === "/slow") return void setTimeout(() => send(200, "slow"), 3000);
    if (url === "/hold") return void held.push(() => send(200, "held"));
    send(200, `hello from ${id}`, { "cache-control": "no-store", connection: "keep-alive, x-drop-me", "x-drop-me": "1" });
  });
  const wss = new WebSocketServer({ server, path: "/ws" });
  wss.on("connection", (socket, req) => {
    socket.send(`welcome from ${id} xff=${String(req.headers["x-forwarded-for"])}`);
    socket.on("message", (data) => socket.send(`echo:${String(data)}`));
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return {
    id,
    server,
    port: (server.address() as AddressInfo).port,
    get hits() {
      return state.hits;
    },
    set hits(v: number) {
      state.hits = v;
    },
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The config the program writes for edge-0 of the local stack when the edge service's settings
 * are `settings` (components/model/: its routes resolved in its view), as the proxy parses it.
 * `upstreams` may point the resolved routes' upstreams at the test's loopback servers.
 */
type WrittenRoute = NonNullable<ReturnType<typeof replicaRuntimeConfig>["routes"]>[number];

export function proxyConfig(settings: Record<string, unknown>, upstreams?: (route: WrittenRoute) => ResolvedRoute["upstreams"]) {
  const { plan } = loadPlan("local", ROOT);
  const planned = plan.services.find((s) => s.id === "edge")!;
  const service = { ...planned, settings, roleSettings: proxySettingsSchema.parse(settings) };
  const replica = plan.replicas.find((r) => r.id === service.replicas[0])!;
  const written = replicaRuntimeConfig(plan, replica, service);
  const routes = upstreams ? written.routes!.map((r) => ({ ...r, upstreams: upstreams(r) })) : written.routes;
  return parseReplicaConfig(JSON.stringify({ ...written, routes }), proxySettingsSchema);
}

export async function startProxy(
  settings: Record<string, unknown>,
  tls?: { certFile: string; keyFile: string },
  websocket: Partial<WebSocketLimits> = {},
): Promise<ProxyApp> {
  const config = proxyConfig(settings);
  return startProxyApp({
    config,
    host: "127.0.0.1",
    httpPort: 0,
    httpsPort: 0,
    ...(tls ? { tls } : {}),
    websocket,
    log: createLogger({ role: "proxy", level: "silent" }),
  });
}
