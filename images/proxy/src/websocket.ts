/**
 * WebSocket (and any HTTP/1.1 Upgrade) pass-through: the handshake goes to an upstream
 * chosen like any request, with forwarding headers; once the upstream answers, the two
 * connections are spliced and bytes flow both ways untouched until either side closes.
 *
 * Limits (images/proxy/README.md, "Limits under attack"): each upgrade takes a token from
 * the client's request bucket like any request (429 when empty); at most
 * `maxPerAddress` tunnels per client address (429 beyond, counted from the handshake on);
 * a tunnel with no byte either way for `idleMs` is closed. An upstream connection the
 * client gave up on is not an upstream failure.
 */
import type { IncomingMessage } from "node:http";
import { connect, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { AddressCap } from "../../runtime/addressCap";
import { forwardHeaders } from "./headers";
import type { BucketTable } from "./limits";
import type { Router } from "./routes";
import { clientAddress } from "../../runtime/proxyProtocol";

/** TCP keep-alive probes on spliced connections start after this much silence. */
const KEEPALIVE_MS = 30_000;

export const WEBSOCKET_LIMITS = {
  /** A tunnel silent both ways this long is closed (a game in play sends every tick). */
  idleMs: 120_000,
  /** Open tunnels (and handshakes in progress) per client address. */
  maxPerAddress: 64,
};
export type WebSocketLimits = typeof WEBSOCKET_LIMITS;

export interface UpgradeOptions {
  readonly router: Router;
  readonly connectTimeoutMs: number;
  /** The client request buckets (undefined when rate limiting is off). */
  readonly rate?: BucketTable;
  readonly limits: WebSocketLimits;
  readonly onDone: (req: IncomingMessage, status: number, upstream?: string) => void;
}

export function createUpgradeHandler(options: UpgradeOptions) {
  const { router, connectTimeoutMs, rate, limits, onDone } = options;
  const perAddress = new AddressCap(limits.maxPerAddress);
  return function upgrade(req: IncomingMessage, client: Duplex, head: Buffer, tls: boolean): void {
    client.on("error", () => undefined);
    const refuse = (status: number, text: string, extra = "") => {
      client.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n${extra}\r\n`);
      onDone(req, status);
    };
    const address = clientAddress(req.socket) ?? "";
    if (rate && !rate.get(address).tryTake()) return refuse(429, "Too Many Requests", "retry-after: 1\r\n");
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") return refuse(400, "Bad Request");
    const route = router.match(req.headers.host, req.url ?? "/");
    if (!route) return refuse(404, "Not Found");
    const release = perAddress.acquire(address);
    if (!release) return refuse(429, "Too Many Requests", "retry-after: 10\r\n");
    const server = route.pool.pick();
    if (!server) {
      release();
      return refuse(503, "Service Unavailable");
    }

    const upstream: Socket = connect({ host: server.host, port: server.port });
    const timer = setTimeout(() => upstream.destroy(new Error("connect timeout")), connectTimeoutMs);
    /** The client left (or idled out): whatever the upstream does next is not its fault. */
    let clientGone = false;
    client.once("close", () => {
      clientGone = true;
      release();
      upstream.destroy();
    });
    // Idle from the handshake on: a client that opens the upgrade and then says nothing
    // (or an upstream that never answers it) is dropped too. Any byte either way through
    // the client socket restarts the timer.
    if (client instanceof Socket)
      client.setTimeout(limits.idleMs, () => {
        clientGone = true;
        client.destroy();
      });
    upstream.on("error", () => {
      clearTimeout(timer);
      if ((upstream.connecting || !upstream.bytesRead) && !clientGone) {
        route.pool.reportFailure(server);
        if (client.writable) refuse(502, "Bad Gateway");
      } else client.destroy();
    });
    upstream.on("connect", () => {
      clearTimeout(timer);
      route.pool.reportSuccess(server);
      const headers = forwardHeaders(req, tls, address || "unknown", true);
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (const [name, value] of Object.entries(headers)) {
        for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(v)}`);
      }
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      server.active++;
      // Small frames go out at once (no Nagle delay on game inputs), and TCP keep-alive
      // finds peers that vanished. The HTTP server's request/keep-alive timers stop at the
      // upgrade; the idle timer above is this tunnel's own.
      upstream.setNoDelay(true);
      upstream.setKeepAlive(true, KEEPALIVE_MS);
      if (client instanceof Socket) {
        // Plain and TLS (a TLSSocket is a net.Socket) client connections alike.
        client.setNoDelay(true);
        client.setKeepAlive(true, KEEPALIVE_MS);
      }
      upstream.pipe(client);
      client.pipe(upstream);
      upstream.once("close", () => {
        client.destroy();
        server.active--;
        onDone(req, 101, server.id);
      });
    });
  };
}
