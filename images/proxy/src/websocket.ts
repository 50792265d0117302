/**
 * WebSocket (and any HTTP/1.1 Upgrade) pass-through: the handshake goes to an upstream
 * chosen like any request, with forwarding headers; once the upstream answers, the two
 * connections are spliced and bytes flow both ways untouched until either side closes.
 */
import type { IncomingMessage } from "node:http";
import { connect, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { forwardHeaders } from "./forward";
import type { Router } from "./routes";

/** TCP keep-alive probes on spliced connections start after this much silence. */
const KEEPALIVE_MS = 30_000;

export function createUpgradeHandler(router: Router, connectTimeoutMs: number, onDone: (req: IncomingMessage, status: number, upstream?: string) => void) {
  return function upgrade(req: IncomingMessage, client: Duplex, head: Buffer, tls: boolean): void {
    const refuse = (status: number, text: string) => {
      client.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      onDone(req, status);
    };
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") return refuse(400, "Bad Request");
    const route = router.match(req.headers.host, req.url ?? "/");
    if (!route) return refuse(404, "Not Found");
    const server = route.pool.pick();
    if (!server) return refuse(503, "Service Unavailable");

    const upstream: Socket = connect({ host: server.host, port: server.port });
    const timer = setTimeout(() => upstream.destroy(new Error("connect timeout")), connectTimeoutMs);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => {
      clearTimeout(timer);
      if (upstream.connecting || !upstream.bytesRead) {
        route.pool.reportFailure(server);
        if (client.writable) refuse(502, "Bad Gateway");
      } else client.destroy();
    });
    upstream.on("connect", () => {
      clearTimeout(timer);
      route.pool.reportSuccess(server);
      const headers = forwardHeaders(req, tls, true);
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (const [name, value] of Object.entries(headers)) {
        for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(v)}`);
      }
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      server.active++;
      // A spliced connection may live for hours (a game session): no idle timeout here (the
      // HTTP server's request/keep-alive timers stop at the upgrade), small frames go out at
      // once (no Nagle delay on game inputs), and TCP keep-alive finds peers that vanished.
      upstream.setNoDelay(true);
      upstream.setKeepAlive(true, KEEPALIVE_MS);
      if (client instanceof Socket) {
        // Plain and TLS (a TLSSocket is a net.Socket) client connections alike.
        client.setNoDelay(true);
        client.setKeepAlive(true, KEEPALIVE_MS);
      }
      upstream.pipe(client);
      client.pipe(upstream);
      const close = () => {
        upstream.destroy();
        client.destroy();
      };
      upstream.once("close", close);
      client.once("close", close);
      upstream.once("close", () => {
        server.active--;
        onDone(req, 101, server.id);
      });
    });
  };
}
