/**
 * The proxy's request and cache counters, driven by curl: the proxy counts per request in
 * plain numbers and hands them to prom-client when it collects, so a scrape must show every
 * response once, and a second scrape the new ones on top (never the old ones twice).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProxyApp } from "../../images/proxy/src/app";
import { curl, requireTool } from "../web/curl";
import { startProxy, startUpstream, type Upstream } from "./fixture";

let ok = false;
let upstream: Upstream;
let proxy: ProxyApp;
const get = (host: string, path: string) => curl(["-H", `Host: ${host}`, `http://127.0.0.1:${proxy.httpPort}${path}`]);

/** The value of one sample line of the registry's exposition, 0 when absent. */
async function sample(name: string, labels: string): Promise<number> {
  const text = await proxy.registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

beforeAll(async () => {
  ok = await requireTool("curl");
  upstream = await startUpstream("m");
  proxy = await startProxy({ routes: [{ hosts: ["m.test"], servers: [`127.0.0.1:${upstream.port}`] }], rateLimit: { requestsPerSecond: 0 } });
});
afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

describe("metrics", () => {
  it("counts responses by route and status class, and cache results, once each across scrapes", async () => {
    if (!ok) return;
    for (let i = 0; i < 3; i++) expect((await get("m.test", "/cached")).status).toBe(200);
    expect((await get("m.test", "/fail")).status).toBe(503);
    expect((await get("nowhere.test", "/")).status).toBe(404);

    expect(await sample("proxy_requests_total", 'route="m.test/",status="2xx"')).toBe(3);
    expect(await sample("proxy_requests_total", 'route="m.test/",status="5xx"')).toBe(1);
    expect(await sample("proxy_requests_total", 'route="-",status="4xx"')).toBe(1);
    expect(await sample("proxy_cache_total", 'result="HIT"')).toBe(2);
    // /cached once, /fail once (a 503 is not stored, but it was looked up and missed).
    expect(await sample("proxy_cache_total", 'result="MISS"')).toBe(2);

    expect((await get("m.test", "/cached")).headers["x-cache"]).toBe("HIT");
    expect(await sample("proxy_requests_total", 'route="m.test/",status="2xx"')).toBe(4);
    expect(await sample("proxy_cache_total", 'result="HIT"')).toBe(3);
    expect(await sample("proxy_requests_total", 'route="-",status="4xx"')).toBe(1);
  });
});
