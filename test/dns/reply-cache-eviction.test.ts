/**
 * The reply cache's bound under a flood of new names (images/dns/src/replyCache.ts): a name
 * clients keep asking for stays cached while a flood of random, cacheable names (NXDOMAIN)
 * passes the cache's size several times; the flood's own entries are the ones evicted.
 */
import packet from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDnsApp, type DnsApp } from "../../images/dns/src/app";
import { MAX_ENTRIES, ReplyCache } from "../../images/dns/src/replyCache";
import { createLogger } from "../../images/runtime/log";
import { dnsConfig, writeConfig } from "./fixture";

let app: DnsApp;
beforeAll(async () => {
  const configPath = writeConfig(dnsConfig({}).config);
  app = await startDnsApp({ configPath, host: "127.0.0.1", port: 0, log: createLogger({ role: "dns", level: "silent" }), watchIntervalMs: 0 });
});
afterAll(() => app?.close());

const query = (name: string, id: number) => packet.encode({ type: "query", id, questions: [{ type: "A", name }] });

describe("the reply cache under a flood of new names", () => {
  it("keeps answering a name clients keep asking for from the cache while 2.5x its size in random names pass through", () => {
    const zones = app.zones();
    const origin = zones.origins[0]!;
    const cache = new ReplyCache(1232);
    const hot = query(`edge.${origin}`, 1);
    expect(cache.answer(hot, zones, "udp")).toBeDefined();
    let hotMisses = 0;
    const flood = Math.round(MAX_ENTRIES * 2.5);
    for (let i = 0; i < flood; i++) {
      const answer = cache.answer(query(`flood-${i.toString(36)}.${origin}`, i & 0xffff), zones, "udp");
      expect(answer?.rcode).toBe("NXDOMAIN");
      if (i % 50 === 0) {
        const before = cache.counts.hit;
        cache.answer(hot, zones, "udp");
        if (cache.counts.hit === before) hotMisses++;
      }
    }
    // The flood was cached (it is what got evicted), and the hot name never left the cache.
    expect(cache.counts.miss).toBeGreaterThanOrEqual(flood);
    expect(hotMisses).toBe(0);
    // A flood entry from the start is gone: asked again, it is answered afresh.
    const misses = cache.counts.miss;
    cache.answer(query(`flood-0.${origin}`, 9), zones, "udp");
    expect(cache.counts.miss).toBe(misses + 1);
  });
});
