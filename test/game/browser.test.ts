/**
 * The browser client in headless Chromium: it joins, and an arrow key moves the player on the
 * server; and loaded through the proxy over HTTPS, it plays over wss:// on the page's origin.
 */
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { startProxyApp, type ProxyApp } from "../../images/proxy/src/app";
import { createLogger } from "../../images/runtime/log";
import { proxyConfig } from "../proxy/fixture";
import { selfSigned } from "../web/curl";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GameServer } from "../../images/game/src/server";
import { ARTIFACTS, browserMissing, CHROMIUM, launchChromium } from "../noc/browser";
import { startTestGame, TestClient } from "./helpers";

/** The page's global, as far as the functions run inside Chromium use it (the project has no DOM lib). */
declare const window: { game: { state: string; id: number; players: Map<number, { x: number }> } };

describe.skipIf(browserMissing() !== undefined)("game client page in headless Chromium", () => {
  let browser: Browser;
  let game: GameServer;
  let url: string;
  beforeAll(async () => {
    ({ game, url } = await startTestGame());
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await game?.close();
  });

  it("joins and moves the player with the arrow keys, seen by another client", async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 660 } });
    await page.goto(`http://127.0.0.1:${game.port}/?name=browser`);
    await page.waitForFunction(() => window.game?.state === "playing" && window.game.players.size > 0, undefined, { timeout: 10_000 });
    const id = await page.evaluate(() => window.game.id);
    const watcher = await TestClient.connect(url);
    await watcher.join("watcher");
    await watcher.next((m) => m.t === "snap" && m.full === true);
    const before = watcher.position(id)!;
    const key = before.x < 500 ? "ArrowRight" : "ArrowLeft";
    await page.keyboard.down(key);
    await page.waitForTimeout(600);
    await page.keyboard.up(key);
    await page.waitForTimeout(200);
    const after = watcher.position(id)!;
    expect(Math.abs(after.x - before.x)).toBeGreaterThan(40);
    expect(after.y).toBe(before.y);
    const seen = await page.evaluate((pid) => window.game.players.get(pid)!.x, id);
    expect(Math.abs(seen - after.x)).toBeLessThanOrEqual(20);
    await page.screenshot({ path: join(ARTIFACTS, "game-client.png") });
    watcher.close();
  }, 60_000);
});

describe.skipIf(browserMissing() !== undefined)("game client page through the proxy over HTTPS", () => {
  const NAME = "arena.fra1.park.test";
  let browser: Browser;
  let game: GameServer;
  let proxy: ProxyApp;
  beforeAll(async () => {
    ({ game } = await startTestGame());
    // edge-0's config as the program writes it (its routes resolved in its view), the arena
    // route's upstream pointed at this test's game server.
    const config = proxyConfig({ accessLog: false }, (route) =>
      route.hosts.includes(NAME) ? [{ id: "arena-0", host: "127.0.0.1", port: game.port }] : [...route.upstreams],
    );
    const tls = await selfSigned([NAME]);
    proxy = await startProxyApp({ config, host: "127.0.0.1", httpPort: 0, httpsPort: 0, tls, log: createLogger({ role: "proxy", level: "silent" }) });
    // The game's name resolves to the proxy on loopback, as our DNS sends it to edge.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", `--host-resolver-rules=MAP ${NAME} 127.0.0.1`],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await game?.close();
  });

  it("loads from https://<game name>/ and plays over wss:// on the same origin", async () => {
    // The self-signed certificate is not in Chromium's store; curl checks the chain in test/proxy.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const sockets: string[] = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    await page.goto(`https://${NAME}:${proxy.httpsPort}/?name=tls`);
    await page.waitForFunction(() => window.game?.state === "playing" && window.game.players.size > 0, undefined, { timeout: 10_000 });
    expect(sockets[0]).toBe(`wss://${NAME}:${proxy.httpsPort}/ws`);
    const id = await page.evaluate(() => window.game.id);
    expect(game.rooms.size).toBeGreaterThan(0);
    expect([...game.rooms.values()].some((r) => r.players.has(id))).toBe(true);
    await context.close();
  }, 60_000);
});
