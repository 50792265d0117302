/**
 * The proxy's default route to a game service: with no routes configured, the program
 * resolves one into the proxy's view (`arena.<domain>`, `arena.<net>.<domain>`, port "game"),
 * health-checks the game's `/healthz`, serves the client page through it, and passes the
 * game's WebSocket through on upgrade — over HTTP and over HTTPS (SNI) — with a real game
 * server behind it and the ws client. A spliced game connection outlives the proxy's
 * request, header and keep-alive timeouts.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { createLogger } from "../../images/runtime/log";
import { join } from "node:path";
import { loadPlan } from "../../cli/stack";
import { proxyView } from "../../components/model/proxyView";
import { startProxyApp, type ProxyApp } from "../../images/proxy/src/app";
import { proxyConfig } from "./fixture";
import type { GameServer } from "../../images/game/src/server";
import { curl, requireTool, selfSigned } from "../web/curl";
import { sleep, startTestGame, TestClient } from "../game/helpers";

const DOMAIN = "fra1.park.test";
const NAME = `arena.${DOMAIN}`;
/** Shortened proxy timeouts: a game connection must live longer than all of them. */
const LIMITS = { requestTimeout: 1000, headersTimeout: 800, keepAliveTimeout: 300, connectionsCheckingInterval: 100 };

/**
 * The config the program writes for edge-0 of the local stack (no routes configured: the
 * default ones), its upstreams pointed at the test's loopback game and web servers.
 */
function configFor(gamePort: number, webPort = 1) {
  return proxyConfig({ rateLimit: { requestsPerSecond: 0 }, accessLog: false }, (r) =>
    r.upstreams.map((u) => ({ ...u, host: "127.0.0.1", port: r.hosts[0] === NAME ? gamePort : webPort })),
  );
}

describe("default routes", () => {
  it("derive one route per web and per game service, by their names; the game's on its game port, uncached, checked at /healthz", () => {
    const { plan } = loadPlan("local", join(__dirname, "..", ".."));
    const edge = plan.services.find((s) => s.id === "edge")!;
    const routes = proxyView(plan, edge).routes;
    // Then one route for the local stack's hosting customers' sites (test/pulumi/customers.test.ts).
    expect(routes.map((r) => r.hosts[0])).toEqual([`www.${DOMAIN}`, NAME, "acme.test"]);
    const arena = routes.find((r) => r.hosts[0] === NAME)!;
    const arenaReplica = plan.replicas.find((r) => r.service === "arena")!;
    expect(arena).toEqual({
      hosts: [NAME, `arena.private.${DOMAIN}`, `arena.mgmt.${DOMAIN}`],
      pathPrefix: "/",
      cache: false,
      balance: "least-connections",
      healthCheck: { path: "/healthz", intervalMs: 2000, timeoutMs: 1000, unhealthyAfter: 2, healthyAfter: 2 },
      // On the network the proxy shares for traffic (private), never the management one.
      upstreams: [{ id: arenaReplica.id, host: arenaReplica.addresses.private, port: 7350 }],
    });
    expect(routes.find((r) => r.hosts[0] === `www.${DOMAIN}`)).toMatchObject({
      cache: true,
      healthCheck: { path: "/" },
      upstreams: [{ port: 8080 }, { port: 8080 }],
    });
  });
});

describe("a game service behind the proxy's default route", () => {
  let ok = false;
  let game: GameServer;
  let proxy: ProxyApp;
  let certFile: string;
  let ca: Buffer;

  beforeAll(async () => {
    ok = await requireTool("curl");
    ({ game } = await startTestGame());
    const cert = await selfSigned([NAME, `arena.private.${DOMAIN}`]);
    certFile = cert.certFile;
    ca = readFileSync(cert.certFile);
    proxy = await startProxyApp({
      config: configFor(game.port),
      host: "127.0.0.1",
      httpPort: 0,
      httpsPort: 0,
      tls: cert,
      log: createLogger({ role: "proxy", level: "silent" }),
      limits: LIMITS,
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await game?.close();
  });

  it("serves the client page over HTTP and /healthz over HTTPS by the game's name (curl)", async () => {
    if (!ok) return;
    const page = await curl(["-H", `Host: ${NAME}`, `http://127.0.0.1:${proxy.httpPort}/`]);
    expect(page.status, page.stderr).toBe(200);
    expect(page.body.toString()).toContain('<canvas id="arena"');
    const health = await curl(["--resolve", `${NAME}:${proxy.httpsPort}:127.0.0.1`, "--cacert", certFile, `https://${NAME}:${proxy.httpsPort}/healthz`]);
    expect(health.status, health.stderr).toBe(200);
    expect(JSON.parse(health.body.toString())).toMatchObject({ ok: true });
    // Another name on the same proxy is not the game.
    const other = await curl(["-H", `Host: nope.${DOMAIN}`, `http://127.0.0.1:${proxy.httpPort}/`]);
    expect(other.status).toBe(404);
  });

  async function play(c: TestClient): Promise<void> {
    const w = await c.join("via-proxy");
    await c.next((m) => m.t === "snap" && m.full === true);
    const id = w.id as number;
    const start = c.position(id)!;
    const dir = start.x < 500 ? 1 : -1;
    c.send({ t: "input", seq: 1, dx: dir, dy: 0 });
    const from = c.messages.length;
    await c.next((m) => m.t === "snap" && (m.players as number[][]).some((p) => p[0] === id && (p[1]! - start.x) * dir >= 20), 3000, from);
    c.send({ t: "input", seq: 2, dx: 3, dy: 0 });
    expect(await c.next((m) => m.t === "reject" && m.seq === 2)).toMatchObject({ reason: "speed" });
  }

  it("upgrades the game's WebSocket over HTTP: join, move, a cheat refused", async () => {
    const c = await TestClient.connect(`ws://127.0.0.1:${proxy.httpPort}/ws`, { headers: { host: NAME } });
    try {
      await play(c);
      c.send({ t: "leave" });
      expect((await c.waitClosed()).code).toBe(1000);
    } finally {
      c.close();
    }
  });

  it("upgrades the game's WebSocket over HTTPS with SNI of the game's name", async () => {
    // ws hands `servername` on to tls.connect (its types omit it): SNI and the certificate check use the game's name.
    const tls = { ca, servername: NAME, headers: { host: NAME } } as WebSocket.ClientOptions;
    const c = await TestClient.connect(`wss://127.0.0.1:${proxy.httpsPort}/ws`, tls);
    try {
      await play(c);
    } finally {
      c.close();
    }
  });

  it("keeps game connections open past the proxy's request, header and keep-alive timeouts, busy or idle", async () => {
    // One plays (a snapshot every tick), one has not joined yet (silent both ways).
    const [busy, idle] = await Promise.all([0, 1].map(() => TestClient.connect(`ws://127.0.0.1:${proxy.httpPort}/ws`, { headers: { host: NAME } })));
    try {
      const w = await busy!.join("long");
      await sleep(Math.max(...Object.values(LIMITS)) * 2.5);
      expect(busy!.closed).toBeUndefined();
      expect(idle!.closed).toBeUndefined();
      for (const [i, c] of [busy!, idle!].entries()) {
        c.send({ t: "ping", id: 40 + i });
        expect(await c.next((m) => m.t === "pong" && m.id === 40 + i)).toBeTruthy();
      }
      const from = busy!.messages.length;
      expect(await busy!.next((m) => m.t === "snap", 2000, from)).toBeTruthy();
      expect(busy!.position(w.id as number)).toBeDefined();
    } finally {
      busy!.close();
      idle!.close();
    }
  });

  it("a game connection counts for least-connections while it is open", async () => {
    const arena = proxy.router.routes.find((r) => r.settings.hosts[0] === NAME)!;
    const c = await TestClient.connect(`ws://127.0.0.1:${proxy.httpPort}/ws`, { headers: { host: NAME } });
    try {
      await c.join("counted");
      expect(arena.pool.servers[0]!.active).toBe(1);
    } finally {
      c.close();
    }
    for (let i = 0; i < 50 && arena.pool.servers[0]!.active > 0; i++) await sleep(20);
    expect(arena.pool.servers[0]!.active).toBe(0);
  });
});
