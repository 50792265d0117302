/** The browser client in headless Chromium: it joins, and an arrow key moves the player on the server. */
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GameServer } from "../../images/game/src/server";
import { ARTIFACTS, browserMissing, launchChromium } from "../noc/browser";
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
