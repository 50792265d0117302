/**
 * The NOC page: Basic authentication, the status JSON and live SVG, and in headless
 * Chromium the map with a replica turning red when its server is stopped (screenshots in
 * test-artifacts/). Probe targets are a real game server and an HTTP stand-in for a web
 * replica, mapped onto the local stack's replicas arena-0 and www-0.
 */
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPlan } from "../../cli/stack";
import { nocSettingsSchema } from "../../contracts/settings/noc";
import { Monitor } from "../../images/noc/src/monitor";
import { FREE_FAILURES, type startNocWeb } from "../../images/noc/src/web";
import { createLogger } from "../../images/runtime/log";
import { startTestGame } from "../game/helpers";
import { ARTIFACTS, browserMissing, launchChromium } from "./browser";
import { certificateFiles, httpStandIn } from "./standins";
import { startTestNocWeb } from "./web-fixture";

/** The page's DOM, as far as the functions run inside Chromium use it (the project has no DOM lib). */
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

const log = createLogger({ role: "noc", level: "silent" });
const { plan } = loadPlan("local", join(__dirname, "..", ".."));
// The probes' timeout is generous: on a loaded 2-core machine a 500 ms probe of a healthy
// local game server timed out (fresh-machine rehearsal, load ~8) and the page showed it down.
// This file tests what the page shows, not how fast the probes are.
const settings = nocSettingsSchema.parse({ intervalMs: 1000, timeoutMs: 8000, historyMinutes: 60 });
// The page is HTTPS (images/noc/src/web.ts): a certificate from a throwaway CA, trusted by
// fetch through the CA and by Chromium through the key's pin.
const tls = certificateFiles();
const trusting = new Agent({ connect: { ca: tls.ca } });
const fetch = (url: string, init: { headers?: Record<string, string> } = {}) => globalThis.fetch(url, { ...init, dispatcher: trusting } as RequestInit);
const auth = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` });

let stopGame: () => Promise<void>;
let stopWeb: () => Promise<void>;
let monitor: Monitor;
let noc: Awaited<ReturnType<typeof startNocWeb>>;
let base: string;

beforeAll(async () => {
  const { game } = await startTestGame();
  stopGame = () => game.close();
  const web = await httpStandIn(200);
  stopWeb = () => web.close();
  const t = (replica: string, service: string, role: string, name: string, port: number) => ({
    service,
    role,
    replica,
    host: "h1",
    port: { name, port, protocol: "tcp" },
    address: "127.0.0.1",
  });
  monitor = new Monitor({
    targets: [t("arena-0", "arena", "game", "game", game.port), t("www-0", "www", "web", "http", web.port)],
    settings,
    domain: plan.domain,
    log,
  });
  await monitor.runRound();
  monitor.start();
  noc = await startTestNocWeb(monitor, "s3cret-test-pass", tls);
  base = `https://127.0.0.1:${noc.port}`;
});
afterAll(async () => {
  await monitor.stop();
  await noc.close();
  await stopGame();
  await stopWeb();
});

describe("NOC web access", () => {
  it("asks for credentials and refuses wrong ones", async () => {
    const none = await fetch(`${base}/`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Basic realm="serverpark noc"/);
    for (const path of ["/", "/diagram.svg", "/api/status"]) expect((await fetch(`${base}${path}`, { headers: auth("operator", "wrong") })).status).toBe(401);
    expect((await fetch(`${base}/api/status`, { headers: auth("admin", "s3cret-test-pass") })).status).toBe(401);
  });

  it("serves the page, the live SVG and the status JSON to the operator", async () => {
    const page = await fetch(`${base}/`, { headers: auth("operator", "s3cret-test-pass") });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'nonce-/);
    expect(await page.text()).toContain("Network operations centre · fra1");
    const svg = await (await fetch(`${base}/diagram.svg`, { headers: auth("operator", "s3cret-test-pass") })).text();
    expect(svg).toMatch(/class="replica st-up"[^>]*data-replica="arena-0"/);
    expect(svg).toMatch(/class="replica st-unknown"[^>]*data-replica="db-0"/);
    const status = (await (await fetch(`${base}/api/status`, { headers: auth("operator", "s3cret-test-pass") })).json()) as {
      replicas: Record<string, string>;
      availability: Record<string, number>;
    };
    expect(status.replicas).toMatchObject({ "arena-0": "up", "www-0": "up" });
    expect(status.availability.arena).toBe(1);
    const history = (await (await fetch(`${base}/api/history`, { headers: auth("operator", "s3cret-test-pass") })).json()) as Record<
      string,
      { state: string }[]
    >;
    expect(Object.keys(history).sort()).toEqual(["arena-0/game", "www-0/http"]);
    expect(history["arena-0/game"]!.length).toBeGreaterThanOrEqual(1);
    expect(history["arena-0/game"]![0]!.state).toBe("up");
  });

  it("answers wrong passwords from an address with 429 after its free failures, the right one still with 200", async () => {
    const other = await startTestNocWeb(monitor, "x", tls);
    try {
      const url = `https://127.0.0.1:${other.port}/`;
      for (let i = 0; i < FREE_FAILURES; i++) expect((await fetch(url, { headers: auth("operator", `guess${i}`) })).status).toBe(401);
      expect((await fetch(url, { headers: auth("operator", "guess") })).status).toBe(401); // this one starts the wait
      expect((await fetch(url, { headers: auth("operator", "guess") })).status).toBe(429);
      expect((await fetch(url)).status).toBe(401); // no credentials: the challenge, so a browser still asks
      expect((await fetch(url, { headers: auth("operator", "x") })).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe.skipIf(browserMissing() !== undefined)("NOC page in headless Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium([tls.spki]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it("draws the datacenter and turns a replica red when its server stops", async () => {
    const context = await browser.newContext({
      httpCredentials: { username: "operator", password: "s3cret-test-pass" },
      viewport: { width: 1100, height: 900 },
    });
    const page = await context.newPage();
    await page.goto(`${base}/`);
    for (const h of plan.hosts) await expect(page.locator(`[data-host="${h.id}"]`).count()).resolves.toBe(1);
    const arena = page.locator('[data-replica="arena-0"]');
    await page.waitForFunction(() => document.querySelector('[data-replica="arena-0"]')?.getAttribute("data-state") === "up", undefined, { timeout: 45_000 });
    await expect(page.locator("#probes tr").count()).resolves.toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, "noc-all-up.png"), fullPage: true });

    await stopGame();
    await page.waitForFunction(() => document.querySelector('[data-replica="arena-0"]')?.getAttribute("data-state") === "down", undefined, { timeout: 45_000 });
    expect(await arena.locator("rect").getAttribute("fill")).toBe("#d63c3c");
    expect(await page.locator('[data-replica="www-0"]').getAttribute("data-state")).toBe("up");
    await page.screenshot({ path: join(ARTIFACTS, "noc-arena-down.png"), fullPage: true });
    await context.close();
  }, 150_000); // waits for probe rounds and a browser: generous for a loaded machine, never a speed check
});
