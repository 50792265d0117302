/**
 * Hostile clients against the web server that test/web does not already cover (slow headers,
 * malformed and oversized requests are in test/web/web-bad-input.test.ts): a client that
 * pipelines requests for a 3 MiB file and never reads the answers must not grow the server's
 * memory (Node's HTTP server stops parsing while a response waits to be written), others are
 * served meanwhile; and TLS 1.1 is refused on the HTTPS listener.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebFixture, type WebFixture } from "../web/fixture";
import { rawExchange } from "../web/malformed";
import { opensslHandshake, rssMiB } from "./support";

/** RSS growth allowed while the flood is held (the file alone is 3 MiB; 2,000 queued copies would be 6 GiB). */
const RSS_BOUND_MIB = 64;
let f: WebFixture;
beforeAll(async () => {
  f = await startWebFixture();
});
afterAll(() => f?.app.close());

describe("web server against hostile clients", () => {
  it("2,000 pipelined requests for a big file whose answers are never read: memory stays bounded, others are served", async () => {
    const before = rssMiB();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB())), 20);
    const attacker = connect(f.app.httpPort, "127.0.0.1");
    attacker.on("error", () => undefined);
    attacker.pause(); // never reads
    const request = Buffer.from("GET /big.bin HTTP/1.1\r\nHost: a.test\r\n\r\n");
    await new Promise<void>((r) => attacker.once("connect", () => r()));
    for (let i = 0; i < 2000; i++) attacker.write(request);
    // Give the server time to take in whatever it will, then check on it and on others.
    await new Promise((r) => setTimeout(r, 2000));
    const reply = await rawExchange(f.app.httpPort, Buffer.from("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"));
    clearInterval(sampler);
    attacker.destroy();
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
    console.info(`web pipelining flood: RSS ${before.toFixed(0)} -> peak ${peak.toFixed(0)} MiB`);
    expect(peak - before).toBeLessThan(RSS_BOUND_MIB);
  }, 60_000);

  it("refuses TLS 1.1 and accepts TLS 1.2 (openssl s_client)", async () => {
    const old = await opensslHandshake(f.app.httpsPort!, "-tls1_1", ["-servername", "a.test"]);
    expect(old.ok, old.output).toBe(false);
    expect((await opensslHandshake(f.app.httpsPort!, "-tls1_2", ["-servername", "a.test"])).protocol).toBe("TLSv1.2");
  });
});
