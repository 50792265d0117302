/**
 * The proxy's ACME issuing against a CA we did not write: Debian's pebble, resolving names with
 * our own dns role (in-process) and validating HTTP-01 on the proxy's HTTP port. Customer acme's
 * names resolve to the proxy and get a certificate from pebble; globex's resolve nowhere, so its
 * orders fail and are retried while it keeps the datacenter CA's certificate. curl checks both
 * over HTTPS with --resolve and the issuer it was told to trust.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withSoa } from "../../components/plan/dns";
import { acmeViewSchema } from "../../contracts/views/proxy";
import { startDnsApp, type DnsApp } from "../../images/dns/src/app";
import { startProxyApp, type ProxyApp } from "../../images/proxy/src/app";
import { createLogger } from "../../images/runtime/log";
import { dnsConfig, writeConfig } from "../dns/fixture";
import { curl, requireTool, selfSigned } from "../web/curl";
import { proxyConfig, startUpstream, type Upstream } from "./fixture";
import { freePorts, startPebble, type Pebble } from "./pebble";

const run = promisify(execFile);
const log = createLogger({ role: "proxy", level: "silent" });
const ACME_NAMES = ["acme.test", "www.acme.test"];
const GLOBEX_NAMES = ["globex.test", "www.globex.test"];

let ready = false;
let dns: DnsApp | undefined;
let pebble: Pebble | undefined;
let web: Upstream | undefined;
let app: ProxyApp | undefined;
let restarted: ProxyApp | undefined;
let dcCert: { certFile: string; keyFile: string };
let acmeDir: string;
let pebbleRoot: string;
/** A second replica of the same proxy service, on its own volume and ACME account. */
let second: ProxyApp | undefined;

/** Sum of proxy_acme_orders_total for these labels. */
async function orders(registry: Registry, match: { set?: string; result?: string }): Promise<number> {
  const metric = await registry.getSingleMetric("proxy_acme_orders_total")!.get();
  return metric.values.filter((v) => Object.entries(match).every(([k, want]) => v.labels[k] === want)).reduce((n, v) => n + v.value, 0);
}

/** Polls until `check` holds; the test's own timeout bounds it (this waits, it asserts nothing). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 100));
}

/** The edge proxy of the local stack, its customer routes pointed at `web`, with an ACME view for both customers. */
function acmeConfig(directoryUrl: string, caBundle: string, renewAfter = 0.67, peerPorts: readonly number[] = [], settings: Record<string, unknown> = {}) {
  const config = proxyConfig({ accessLog: false, ...settings }, () => [{ id: "web-a", host: "127.0.0.1", port: web!.port }]);
  const acme = acmeViewSchema.parse({
    directoryUrl,
    email: "ops@fra1.park.test",
    caBundle,
    renewAfter,
    maxOrdersInFlight: 2,
    peers: peerPorts.map((port) => ({ host: "127.0.0.1", port })),
    domainSets: [
      { id: "acme", names: ACME_NAMES },
      { id: "globex", names: GLOBEX_NAMES },
    ],
  });
  return { ...config, acme };
}

/** The serial number and issuer of the certificate the proxy serves for `name`, as openssl's client sees it. */
async function servedCertificate(port: number, name: string): Promise<string> {
  const { stdout } = await run("sh", [
    "-c",
    `openssl s_client -connect 127.0.0.1:${port} -servername ${name} </dev/null 2>/dev/null | openssl x509 -noout -serial -issuer`,
  ]);
  return stdout;
}

const https = (name: string, port: number, caFile: string, path = "/") =>
  curl(["-v", "--resolve", `${name}:${port}:127.0.0.1`, "--cacert", caFile, `https://${name}:${port}${path}`]);

beforeAll(async () => {
  ready = (await requireTool("pebble")) && (await requireTool("curl")) && (await requireTool("openssl"));
  if (!ready) return;
  web = await startUpstream("web-a");
  // Our dns role answers acme's names with the proxy's loopback address; globex has no zone.
  const { config } = dnsConfig({ rrl: { responsesPerSecond: 0 } });
  const zones = config.zones!.filter((z) => z.origin !== "acme.test" && z.origin !== "globex.test");
  const acmeZone = withSoa("acme.test", ["ns1.fra1.park.test"], [...ACME_NAMES.map((name) => ({ name, ttl: 60, type: "A" as const, data: "127.0.0.1" }))]);
  dns = await startDnsApp({ configPath: writeConfig({ ...config, zones: [...zones, acmeZone] }), host: "127.0.0.1", port: 0, log, watchIntervalMs: 0 });
  const [httpPort, secondPort] = (await freePorts(2)) as [number, number];
  pebble = await startPebble({ httpPort, dnsPort: dns.server.port });
  pebbleRoot = join(mkdtempSync(join(tmpdir(), "sp-pebble-root-")), "root.pem");
  // Stands for the datacenter CA's certificate on the proxy (it names no customer: curl -k below where that matters).
  dcCert = await selfSigned(["edge.fra1.park.test", ...ACME_NAMES, ...GLOBEX_NAMES]);
  acmeDir = mkdtempSync(join(tmpdir(), "sp-acme-"));
  app = await startProxyApp({
    config: acmeConfig(pebble.directoryUrl, pebble.caBundle, 0.67, [httpPort, secondPort]),
    host: "127.0.0.1",
    httpPort,
    httpsPort: 0,
    tls: dcCert,
    // Every replica is on 127.0.0.1 here: none is skipped as "own" (asking itself is answered 404).
    acme: { dir: acmeDir, backoffMinMs: 200, backoffMaxMs: 1000, ownAddresses: [] },
    log,
  });
  // pebble validates on the first replica's port only, as if DNS or a balancer always picked it:
  // the second's tokens (another account's) reach the first, which must ask the second.
  second = await startProxyApp({
    config: acmeConfig(pebble.directoryUrl, pebble.caBundle, 0.67, [httpPort, secondPort]),
    host: "127.0.0.1",
    httpPort: secondPort,
    httpsPort: 0,
    tls: dcCert,
    acme: { dir: mkdtempSync(join(tmpdir(), "sp-acme-second-")), backoffMinMs: 200, backoffMaxMs: 1000, ownAddresses: [] },
    log,
  });
}, 60_000);

afterAll(async () => {
  await second?.close();
  await restarted?.close();
  await app?.close();
  await pebble?.close();
  dns?.close();
  await web?.close();
});

describe("proxy ACME issuing against pebble", () => {
  it("orders one certificate for the customer's names and serves it by SNI: curl trusts it with pebble's root, not the datacenter CA", async (ctx) => {
    if (!ready) return ctx.skip();
    await until(async () => (await orders(app!.registry, { set: "acme", result: "issued" })) >= 1).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${pebble!.output()}`);
    });
    writeFileSync(pebbleRoot, await pebble!.root());
    for (const name of ACME_NAMES) {
      const res = await https(name, app!.httpsPort!, pebbleRoot);
      expect(res.stderr).toMatch(/issuer: CN ?= ?Pebble Intermediate CA/);
      expect(res.status).toBe(200);
      expect(res.headers["x-served-by"]).toBe("web-a");
      // The datacenter CA's certificate is no longer what this name gets.
      expect((await https(name, app!.httpsPort!, dcCert.certFile)).exitCode).toBe(60);
    }
    expect(await orders(app!.registry, { set: "acme", result: "issued" })).toBe(1);
    expect(readdirSync(acmeDir).sort()).toEqual(["account.key", "acme.pem"]);
  });

  it("keeps serving the datacenter CA's certificate to a set whose orders fail, and retries them", async (ctx) => {
    if (!ready) return ctx.skip();
    // globex's names resolve nowhere: pebble refuses each order; the proxy tries again after its backoff.
    await until(async () => (await orders(app!.registry, { set: "globex", result: "failed" })) >= 2);
    expect(await orders(app!.registry, { set: "globex", result: "issued" })).toBe(0);
    const res = await https("www.globex.test", app!.httpsPort!, dcCert.certFile);
    expect(res.stderr).toMatch(/issuer: CN ?= ?edge\.fra1\.park\.test/);
    expect(res.status).toBe(200);
    expect((await https("www.globex.test", app!.httpsPort!, pebbleRoot)).exitCode).toBe(60);
  });

  it("orders nothing for a name it was not given, whatever Host or SNI a client sends, and answers no token it did not issue", async (ctx) => {
    if (!ready) return ctx.skip();
    for (const name of ["evil.test", "www.evil.test", "acme.test.evil.test"]) {
      const tls = await curl(["-k", "--resolve", `${name}:${app!.httpsPort}:127.0.0.1`, `https://${name}:${app!.httpsPort}/`]);
      expect(tls.exitCode).toBe(0); // the handshake used the default certificate
      const challenge = await curl(["-H", `Host: ${name}`, `http://127.0.0.1:${app!.httpPort}/.well-known/acme-challenge/anything`]);
      expect(challenge.status).not.toBe(200);
    }
    const unknownToken = await curl(["-H", "Host: acme.test", `http://127.0.0.1:${app!.httpPort}/.well-known/acme-challenge/not-a-token`]);
    expect(unknownToken.status).toBe(404);
    const metric = await app!.registry.getSingleMetric("proxy_acme_orders_total")!.get();
    expect(new Set(metric.values.map((v) => v.labels.set))).toEqual(new Set(["acme", "globex"]));
    expect(await orders(app!.registry, { set: "acme" })).toBe(1);
    expect(readdirSync(acmeDir).filter((f) => f.includes("evil"))).toEqual([]);
  });

  it("a restarted proxy serves the stored certificate at once, without ordering again", async (ctx) => {
    if (!ready) return ctx.skip();
    restarted = await startProxyApp({
      config: acmeConfig(pebble!.directoryUrl, pebble!.caBundle),
      host: "127.0.0.1",
      httpPort: 0,
      httpsPort: 0,
      tls: dcCert,
      acme: { dir: acmeDir, backoffMinMs: 60_000, backoffMaxMs: 60_000 },
      log,
    });
    const res = await https("acme.test", restarted.httpsPort!, pebbleRoot);
    expect(res.status).toBe(200);
    expect(res.stderr).toMatch(/issuer: CN ?= ?Pebble Intermediate CA/);
    expect(await orders(restarted.registry, { set: "acme" })).toBe(0);
  });
});

describe("two replicas of the proxy", () => {
  it("the replica the CA's validation reaches answers a token the other one issued, by asking it", async (ctx) => {
    if (!ready) return ctx.skip();
    await until(async () => (await orders(second!.registry, { set: "acme", result: "issued" })) >= 1);
    const res = await https("www.acme.test", second!.httpsPort!, pebbleRoot);
    expect(res.status).toBe(200);
    expect(res.stderr).toMatch(/issuer: CN ?= ?Pebble Intermediate CA/);
    // A request marked as a peer's is answered from the replica's own tokens only, never passed on.
    const marked = await curl([
      "-H",
      "Host: acme.test",
      "-H",
      "x-serverpark-acme-peer: 1",
      `http://127.0.0.1:${app!.httpPort}/.well-known/acme-challenge/${"A".repeat(43)}`,
    ]);
    expect(marked.status).toBe(404);
  });
});

describe("limits", () => {
  it("takes a request token from the client for every question it passes to its peers", async (ctx) => {
    if (!ready) return ctx.skip();
    // Two requests per client, refilled once in 1,000 s: the third question is refused before any peer is asked.
    const limited = await startProxyApp({
      config: acmeConfig(pebble!.directoryUrl, pebble!.caBundle, 0.67, [app!.httpPort], { rateLimit: { requestsPerSecond: 0.001, burst: 2 } }),
      host: "127.0.0.1",
      httpPort: 0,
      tls: dcCert,
      acme: { dir: acmeDir, backoffMinMs: 60_000, backoffMaxMs: 60_000, ownAddresses: [] },
      log,
    });
    try {
      const ask = () => curl(["-H", "Host: acme.test", `http://127.0.0.1:${limited.httpPort}/.well-known/acme-challenge/${"B".repeat(43)}`]);
      expect([(await ask()).status, (await ask()).status, (await ask()).status]).toEqual([404, 404, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe("state it cannot keep", () => {
  it("serves the datacenter CA's certificates when its ACME directory cannot be created, instead of failing to start", async (ctx) => {
    if (!ready) return ctx.skip();
    const broken = await startProxyApp({
      config: acmeConfig(pebble!.directoryUrl, pebble!.caBundle),
      host: "127.0.0.1",
      httpPort: 0,
      httpsPort: 0,
      tls: dcCert,
      // A folder under a file: mkdir fails (ENOTDIR) even for root.
      acme: { dir: join(dcCert.certFile, "acme"), backoffMinMs: 60_000, backoffMaxMs: 60_000 },
      log,
    });
    try {
      const res = await https("acme.test", broken.httpsPort!, dcCert.certFile);
      expect(res.status).toBe(200);
      expect(res.stderr).toMatch(/issuer: CN ?= ?edge\.fra1\.park\.test/);
      expect(await orders(broken.registry, {})).toBe(0);
    } finally {
      await broken.close();
    }
  });
});

describe("renewal", () => {
  let shortLived: Pebble | undefined;
  let renewing: ProxyApp | undefined;
  afterAll(async () => {
    await renewing?.close();
    await shortLived?.close();
  });

  it("renews a certificate once half its lifetime has passed and serves the new one without a restart", async (ctx) => {
    if (!ready) return ctx.skip();
    // A CA whose certificates live 8 s: with renewAfter 0.5 the proxy orders again after about 4 s.
    const [httpPort] = (await freePorts(1)) as [number];
    shortLived = await startPebble({ httpPort, dnsPort: dns!.server.port, validitySeconds: 8 });
    const dir = mkdtempSync(join(tmpdir(), "sp-acme-renew-"));
    renewing = await startProxyApp({
      config: acmeConfig(shortLived.directoryUrl, shortLived.caBundle, 0.5),
      host: "127.0.0.1",
      httpPort,
      httpsPort: 0,
      tls: dcCert,
      acme: { dir, backoffMinMs: 200, backoffMaxMs: 1000 },
      log,
    });
    await until(async () => (await orders(renewing!.registry, { set: "acme", result: "issued" })) >= 1);
    const first = await servedCertificate(renewing.httpsPort!, "acme.test");
    const firstFile = readFileSync(join(dir, "acme.pem"), "utf8");
    // Counted after reading: a renewal in between only makes the wait for the next one longer.
    const issued = await orders(renewing.registry, { set: "acme", result: "issued" });
    await until(async () => (await orders(renewing!.registry, { set: "acme", result: "issued" })) >= issued + 1);
    const second = await servedCertificate(renewing.httpsPort!, "acme.test");
    expect(first).toMatch(/issuer=CN ?= ?Pebble Intermediate CA/);
    expect(second).toMatch(/issuer=CN ?= ?Pebble Intermediate CA/);
    expect(second.split("\n")[0]).not.toBe(first.split("\n")[0]); // another serial
    expect(readFileSync(join(dir, "acme.pem"), "utf8")).not.toBe(firstFile);

    // Stopped until its stored certificate has expired, a proxy that cannot renew it (its CA
    // answers 404) serves the datacenter CA's certificate again rather than an expired one.
    const expiry = (await renewing.registry.getSingleMetric("proxy_acme_certificate_expiry_seconds")!.get()).values.find((v) => v.labels.set === "acme")!;
    await renewing.close();
    renewing = undefined;
    await until(() => Promise.resolve(Date.now() > expiry.value * 1000 + 1000));
    renewing = await startProxyApp({
      config: acmeConfig(shortLived.directoryUrl.replace(/\/dir$/, "/no-such-directory"), shortLived.caBundle, 0.5),
      host: "127.0.0.1",
      httpPort: 0,
      httpsPort: 0,
      tls: dcCert,
      acme: { dir, backoffMinMs: 60_000, backoffMaxMs: 60_000 },
      log,
    });
    const stale = await https("acme.test", renewing.httpsPort!, dcCert.certFile);
    expect(stale.status).toBe(200);
    expect(stale.stderr).toMatch(/issuer: CN ?= ?edge\.fra1\.park\.test/);
  }, 60_000);
});
