/**
 * Hostile clients against the proxy: aborted uploads must not eject a healthy upstream,
 * WebSocket handshakes spend the client's request tokens, one address holds a bounded
 * number of tunnels, and a silent tunnel is closed — while a client from another address
 * (127.0.0.2) keeps being served. Clients: raw sockets, the ws client, curl.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { ProxyApp } from "../../images/proxy/src/app";
import type { WebSocketLimits } from "../../images/proxy/src/websocket";
import { startProxy, startUpstream, type Upstream } from "../proxy/fixture";
import { curl, requireTool, selfSigned } from "../web/curl";
import { opensslHandshake } from "./support";

const HOST = "shop.test";
let ok = false;
let upstream: Upstream;
const proxies: ProxyApp[] = [];
/** Every client tunnel opened, cut at the end whatever a test left open. */
const tunnels: WebSocket[] = [];

async function proxyWith(settings: Record<string, unknown>, websocket: Partial<WebSocketLimits> = {}, tls?: { certFile: string; keyFile: string }) {
  const app = await startProxy({ routes: [{ hosts: [HOST], servers: [`127.0.0.1:${upstream.port}`], cache: false }], ...settings }, tls, websocket);
  proxies.push(app);
  return app;
}

/** Resolves when `check` holds, polling; rejects after `ms` with `what`. */
async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A ws client through `proxy`; resolves with the socket once the upstream's welcome arrived, or the refusing status. */
function openTunnel(proxy: ProxyApp, localAddress = "127.0.0.1"): Promise<{ ws?: WebSocket; status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.httpPort}/ws`, { headers: { host: HOST }, localAddress });
    tunnels.push(ws);
    ws.once("message", () => resolve({ ws, status: 101 }));
    ws.once("unexpected-response", (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    ws.once("error", reject);
  });
}

beforeAll(async () => {
  ok = await requireTool("curl");
  upstream = await startUpstream("a");
});
afterAll(async () => {
  for (const ws of tunnels) ws.terminate();
  for (const p of proxies) await p.close();
  await upstream?.close();
});

describe("proxy against hostile clients", () => {
  it("client-aborted POSTs do not eject a healthy upstream", async () => {
    if (!ok) return;
    const proxy = await proxyWith({ passive: { failures: 3, ejectMs: 600_000 }, rateLimit: { requestsPerSecond: 0 } });
    const server = proxy.router.routes[0]!.pool.servers[0]!;
    for (let i = 0; i < 5; i++) {
      const hits = upstream.hits;
      const socket = connect(proxy.httpPort, "127.0.0.1");
      socket.on("error", () => undefined);
      socket.write(`POST /echo HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 100000\r\n\r\n${"x".repeat(1000)}`);
      await until(() => upstream.hits > hits, "the upstream saw the upload");
      socket.destroy();
      await until(() => server.active === 0, "the proxy let the aborted request go");
    }
    expect(server.passiveFailures).toBe(0);
    expect(server.ejectedUntil).toBeLessThanOrEqual(Date.now());
    const after = await curl(["-H", `Host: ${HOST}`, `http://127.0.0.1:${proxy.httpPort}/`]);
    expect(after.status).toBe(200);
    expect(after.body.toString()).toBe("hello from a");
  });

  it("a WebSocket handshake flood spends the client's request tokens; another address is still served", async () => {
    if (!ok) return;
    const proxy = await proxyWith({ rateLimit: { requestsPerSecond: 2, burst: 5 } });
    const results = await Promise.all(Array.from({ length: 30 }, () => openTunnel(proxy)));
    const refused = results.filter((r) => r.status === 429).length;
    for (const r of results) r.ws?.terminate();
    // The bucket holds 5 and refills 2 per second: most of 30 handshakes at once are refused.
    expect(refused).toBeGreaterThanOrEqual(20);
    expect(results.filter((r) => r.status === 101).length).toBeGreaterThan(0);
    const other = await openTunnel(proxy, "127.0.0.2");
    expect(other.status).toBe(101);
    other.ws!.terminate();
    expect((await curl(["--interface", "127.0.0.2", "-H", `Host: ${HOST}`, `http://127.0.0.1:${proxy.httpPort}/`])).status).toBe(200);
  });

  it("caps WebSocket tunnels per address; another address still gets one", async () => {
    if (!ok) return;
    const proxy = await proxyWith({ rateLimit: { requestsPerSecond: 0 } }, { maxPerAddress: 4 });
    const open = await Promise.all(Array.from({ length: 4 }, () => openTunnel(proxy)));
    expect(open.map((r) => r.status)).toEqual([101, 101, 101, 101]);
    expect((await openTunnel(proxy)).status).toBe(429);
    const other = await openTunnel(proxy, "127.0.0.2");
    expect(other.status).toBe(101);
    other.ws!.send("still here");
    const echo = await new Promise<string>((resolve) => other.ws!.once("message", (m) => resolve(String(m))));
    expect(echo).toBe("echo:still here");
    // Closing one frees its slot.
    const closed = new Promise((r) => open[0]!.ws!.once("close", r));
    open[0]!.ws!.close();
    await closed;
    let again = await openTunnel(proxy);
    for (let i = 0; i < 40 && again.status !== 101; i++) {
      await new Promise((r) => setTimeout(r, 50));
      again = await openTunnel(proxy);
    }
    expect(again.status).toBe(101);
    for (const r of [...open, other, again]) r.ws?.terminate();
  });

  it("closes a tunnel that stays silent both ways", async () => {
    if (!ok) return;
    const proxy = await proxyWith({ rateLimit: { requestsPerSecond: 0 } }, { idleMs: 300 });
    const { ws } = await openTunnel(proxy);
    const code = await new Promise<number>((resolve, reject) => {
      ws!.once("close", (c) => resolve(c));
      setTimeout(() => reject(new Error("the silent tunnel was still open after 10 s")), 10_000);
    });
    expect(code).toBe(1006); // cut by the proxy, no close frame from the upstream
    await until(() => proxy.router.routes[0]!.pool.servers[0]!.active === 0, "the upstream side of the tunnel closed too");
  });

  it("refuses TLS 1.1 on the HTTPS listener and accepts TLS 1.2 (openssl s_client)", async () => {
    if (!ok) return;
    const proxy = await proxyWith({}, {}, await selfSigned(["edge.fra1.park.test"]));
    const old = await opensslHandshake(proxy.httpsPort!, "-tls1_1");
    expect(old.ok, old.output).toBe(false);
    expect((await opensslHandshake(proxy.httpsPort!, "-tls1_2")).protocol).toBe("TLSv1.2");
  });
});
