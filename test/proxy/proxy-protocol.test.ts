/**
 * The proxy behind a load balancer that passes client addresses with the PROXY protocol
 * (images/runtime/proxyProtocol.ts): curl's `--haproxy-protocol` (v1) against both listeners;
 * headers naming another client (v1 text and v2 binary, built with proxy-protocol-js) reach
 * the upstream as X-Forwarded-For; a trusted peer without a header, with a bad or slow one is
 * dropped; an untrusted peer's header is never believed. Only 127.0.0.1 is the balancer here:
 * curl binds 127.0.0.2 to be anyone else.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { IPv4Address, IPv4ProxyAddress, Command, TransportProtocol, V2ProxyProtocol } from "proxy-protocol-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProxyApp } from "../../images/proxy/src/app";
import { curl, requireTool, selfSigned } from "../web/curl";
import { startProxy, startUpstream, type Upstream } from "./fixture";

let ok = false;
let upstream: Upstream;
let proxy: ProxyApp;
let site: { certFile: string; keyFile: string };

beforeAll(async () => {
  ok = await requireTool("curl");
  upstream = await startUpstream("a");
  site = await selfSigned(["shop.test"]);
  proxy = await startProxy(
    {
      routes: [{ hosts: ["shop.test"], servers: [`127.0.0.1:${upstream.port}`] }],
      rateLimit: { requestsPerSecond: 0 },
      certificates: [{ hosts: ["shop.test"], ...site }],
      proxyProtocol: { from: ["127.0.0.1/32"], headerTimeoutMs: 500 },
    },
    site,
  );
});
afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

/** What a raw connection gets back: the bytes until the server closes (or 3 s). */
function exchange(port: number, bytes: Buffer[], gapMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = netConnect({ host: "127.0.0.1", port });
    let got = "";
    socket.on("data", (d: Buffer) => (got += d.toString("latin1")));
    const done = () => resolve(got);
    socket.on("close", done);
    socket.on("error", done);
    setTimeout(() => socket.destroy(), 3000);
    socket.on("connect", async () => {
      for (const b of bytes) {
        if (socket.destroyed) return;
        socket.write(b);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

const request = Buffer.from("GET /headers HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
const v1 = (client: string) => Buffer.from(`PROXY TCP4 ${client} 127.0.0.1 40000 80\r\n`);
const xff = (response: string) => JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4)).xff as string;

describe("PROXY protocol from the load balancer", () => {
  it("says both listeners accept connections, though the HTTP(S) servers behind the PROXY readers never listen themselves", async () => {
    // The proxy's readiness (images/proxy/src/main.ts) asks this: `http.listening` kept a proxy behind a balancer unhealthy forever.
    expect(proxy.http.listening).toBe(false);
    expect(proxy.listening()).toEqual({ http: true, https: true });
    // …and they do: a connection opens on each port.
    for (const port of [proxy.httpPort, proxy.httpsPort!]) {
      await new Promise<void>((resolve, reject) => {
        const socket = netConnect({ host: "127.0.0.1", port }, () => {
          socket.destroy();
          resolve();
        }).on("error", reject);
      });
    }
  });

  it("curl --haproxy-protocol reaches both listeners; the header's client goes upstream in X-Forwarded-For", async () => {
    if (!ok) return;
    const plain = await curl(["--haproxy-protocol", "-H", "Host: shop.test", `http://127.0.0.1:${proxy.httpPort}/headers`]);
    expect(plain.status, plain.stderr).toBe(200);
    expect(JSON.parse(plain.body.toString()).xff).toBe("127.0.0.1");
    const port = proxy.httpsPort!;
    const tls = await curl(["--haproxy-protocol", "--resolve", `shop.test:${port}:127.0.0.1`, "--cacert", site.certFile, `https://shop.test:${port}/headers`]);
    expect(tls.status, tls.stderr).toBe(200);
    expect(JSON.parse(tls.body.toString())).toMatchObject({ xff: "127.0.0.1", proto: "https" });
  });

  it("believes the client a v1 or v2 header names, over plain HTTP and TLS", async () => {
    expect(xff(await exchange(proxy.httpPort, [v1("203.0.113.7"), request]))).toBe("203.0.113.7");
    const v2 = Buffer.from(
      new V2ProxyProtocol(
        Command.PROXY,
        TransportProtocol.STREAM,
        new IPv4ProxyAddress(IPv4Address.createFrom([198, 51, 100, 9]), 40001, IPv4Address.createFrom([127, 0, 0, 1]), 443),
      ).build(),
    );
    // The header and the request in one write: the bytes after the header are the request's.
    expect(xff(await exchange(proxy.httpPort, [Buffer.concat([v2, request])]))).toBe("198.51.100.9");
    // Over TLS: the header first, then the handshake on the same connection.
    const answer = await new Promise<string>((resolve, reject) => {
      const raw = netConnect({ host: "127.0.0.1", port: proxy.httpsPort! }, () => {
        raw.write(v1("192.0.2.44"));
        const tls = tlsConnect({ socket: raw, servername: "shop.test", rejectUnauthorized: false }, () => tls.write(request));
        let got = "";
        tls.on("data", (d: Buffer) => (got += d.toString("latin1")));
        tls.on("end", () => resolve(got));
        tls.on("error", reject);
      });
    });
    expect(xff(answer)).toBe("192.0.2.44");
  });

  it("drops a trusted peer's connection without a header, with a malformed or oversized one, or one sent too slowly", async () => {
    expect(await exchange(proxy.httpPort, [request])).toBe("");
    expect(await exchange(proxy.httpPort, [Buffer.from("PROXY TCP4 not-an-ip 127.0.0.1 1 2\r\n"), request])).toBe("");
    expect(await exchange(proxy.httpPort, [Buffer.from(`PROXY TCP4 ${"1".repeat(120)}`)])).toBe("");
    // Byte by byte, 40 ms apart: the 44-byte header would take 1.7 s, the limit is 500 ms.
    const header = v1("203.0.113.8");
    expect(
      await exchange(
        proxy.httpPort,
        [...header].map((b) => Buffer.from([b])),
        40,
      ),
    ).toBe("");
    // The listener still serves the next client.
    expect(xff(await exchange(proxy.httpPort, [v1("203.0.113.9"), request]))).toBe("203.0.113.9");
  });

  it("never believes a header from anyone but the balancer: from 127.0.0.2 it is a bad request, and a plain request works", async () => {
    if (!ok) return;
    const base = ["--interface", "127.0.0.2", "-H", "Host: shop.test", `http://127.0.0.1:${proxy.httpPort}/headers`];
    const plain = await curl(base);
    expect(plain.status, plain.stderr).toBe(200);
    expect(JSON.parse(plain.body.toString()).xff).toBe("127.0.0.2");
    const spoofed = await curl(["--haproxy-protocol", ...base]);
    expect(spoofed.status, spoofed.stderr).toBe(400);
  });
});
