/**
 * Bad input against the proxy: 10,000 malformed requests (1,000 broken at the framing
 * level, one per connection; 9,000 hostile but well-framed ones pipelined on keep-alive
 * connections) and slow clients. Every one is answered or its connection closed, nothing
 * reaches the upstream broken, and everyone else keeps being served.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProxyApp, type ProxyApp } from "../../images/proxy/src/app";
import { createLogger } from "../../images/runtime/log";
import { malformedRequest, rawExchange, rawExchangeDetailed, rng } from "../web/malformed";
import { proxyConfig, startUpstream, type Upstream } from "./fixture";

let upstream: Upstream;
let proxy: ProxyApp;

beforeAll(async () => {
  upstream = await startUpstream("u");
  const config = proxyConfig({
    routes: [{ hosts: ["a.test"], servers: [`127.0.0.1:${upstream.port}`] }],
    rateLimit: { requestsPerSecond: 0 },
    maxBodyBytes: 100,
  });
  proxy = await startProxyApp({
    config,
    host: "127.0.0.1",
    httpPort: 0,
    log: createLogger({ role: "proxy", level: "silent" }),
    limits: { headersTimeout: 1000, requestTimeout: 2000, connectionsCheckingInterval: 200 },
  });
});
afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

async function stillServes(): Promise<void> {
  const reply = await rawExchange(proxy.httpPort, Buffer.from("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"));
  expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
  expect(reply).toContain("hello from u");
}

describe("proxy bad input", () => {
  it("answers or closes 1,000 malformed requests (one per connection) and keeps serving", async () => {
    const random = rng(4321);
    const statuses = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < 1_000) {
        const reply = await rawExchange(proxy.httpPort, malformedRequest(random, next++), true, 300);
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1] ?? "closed";
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(statuses.get("500") ?? 0).toBe(0);
    expect(statuses.get("431") ?? 0).toBeGreaterThan(50); // the rest may still be in flight at the 300 ms client cut-off on a loaded machine
    expect(statuses.get("400") ?? 0).toBeGreaterThan(50); // the rest may still be in flight at the 300 ms client cut-off on a loaded machine
    await stillServes();
  });

  it("answers 9,000 hostile well-framed requests pipelined on keep-alive connections without a 500", async () => {
    const random = rng(88);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    // (Upgrade requests and conflicting lengths close the connection by design, so they are left to the first test.)
    const lines = [
      "X-Forwarded-For: ::::",
      "Expect: 100-continue",
      "TE: trailers",
      "Connection: x-foo",
      "Cache-Control: max-age=-1",
      "Cache-Control: no-cache",
      "Range: bytes=1-0",
      "Via: 1.1 loop",
      "X-A: \u00ff",
    ];
    const request = () =>
      `${pick(["GET", "HEAD", "DELETE", "OPTIONS", "POST"])} ${pick(["/", "/cached", "/private", "/%", "/../..", "/" + "q".repeat(3000), "/fail", "/headers"])} HTTP/1.1\r\nHost: ${pick(["a.test", "x", "A.TEST.", "[::1]:80", "a.test.evil"])}\r\n${pick(lines)}\r\n${pick(lines)}\r\nContent-Length: 0\r\n\r\n`;
    const statuses = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 90 }, async () => {
        const batch = Array.from({ length: 100 }, request).join("") + "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
        const reply = await rawExchange(proxy.httpPort, Buffer.from(batch, "latin1"), false, 30_000);
        for (const m of reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)) statuses.set(m[1]!, (statuses.get(m[1]!) ?? 0) + 1);
      }),
    );
    const total = [...statuses.values()].reduce((x, y) => x + y, 0);
    expect(statuses.get("404") ?? 0).toBeGreaterThan(1000); // unknown hosts never reach an upstream
    expect(total).toBeGreaterThanOrEqual(9_000);
    expect(statuses.get("500") ?? 0).toBe(0);
    expect(statuses.get("502") ?? 0).toBe(0);
    await stillServes();
  });

  it("cuts off slow clients while others are served", async () => {
    // Our own timeout is 20 s, far beyond the proxy's header timeout: each must be closed by the proxy.
    const slow = Array.from({ length: 20 }, () =>
      rawExchangeDetailed(proxy.httpPort, Buffer.from("GET / HTTP/1.1\r\nHost: a.test\r\nX-Slow: "), false, 20_000),
    );
    await stillServes();
    for (const r of await Promise.all(slow)) expect(r.endedBy).toBe("server");
  });
});
