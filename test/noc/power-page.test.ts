/**
 * The NOC page shows power, seen in headless Chromium: the local stack's map with real host
 * agents for h1 and h3 (mutual TLS from a throwaway CA), the other hosts unread. When the
 * operator cuts h3's only feed, h3 turns "no power", its replica db-0 turns grey instead of
 * red and rack r1 shows partial power (screenshots in test-artifacts/noc-power-*.png).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPlan } from "../../cli/stack";
import { diagramModel } from "../../components/model/nocView";
import { nocSettingsSchema } from "../../contracts/settings/noc";
import type { HostAgent } from "../../images/host-agent/src/agent";
import { STATE_COLOURS } from "../../images/noc/src/diagram";
import { POWER_STYLE_ATTRS } from "../../images/noc/src/diagramPower";
import { Monitor } from "../../images/noc/src/monitor";
import { PowerPoller } from "../../images/noc/src/power";
import { startNocWeb } from "../../images/noc/src/web";
import { createLogger } from "../../images/runtime/log";
import { makeManagementPki, type ManagementPki } from "../support/managementPki";
import { ARTIFACTS, browserMissing, launchChromium } from "./browser";
import { curlPower, startAgent } from "./powerAgents";
import { httpStandIn, type Running } from "./standins";

/** The page's DOM, as far as the functions run inside Chromium use it (the project has no DOM lib). */
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null };

const log = createLogger({ role: "noc", level: "silent" });
const { plan } = loadPlan("local", join(__dirname, "..", ".."));
const model = diagramModel(plan);
const ADDRESS = { h1: "127.0.0.6", h3: "127.0.0.7" };

describe.skipIf(browserMissing() !== undefined)("NOC page shows power in headless Chromium", () => {
  let pki: ManagementPki;
  const agents: Partial<Record<"h1" | "h3", HostAgent>> = {};
  let web: Running;
  let power: PowerPoller;
  let monitor: Monitor;
  let noc: Awaited<ReturnType<typeof startNocWeb>>;
  let browser: Browser;

  beforeAll(async () => {
    pki = makeManagementPki(Object.values(ADDRESS));
    for (const h of ["h1", "h3"] as const) {
      const planned = plan.hosts.find((x) => x.id === h)!;
      agents[h] = await startAgent({ host: h, rack: planned.rack, psus: planned.psus, address: ADDRESS[h], server: pki.server, clientCa: pki.ca });
    }
    web = await httpStandIn(200);
    power = new PowerPoller({
      model,
      agents: ADDRESS,
      port: { h1: agents.h1!.management.port, h3: agents.h3!.management.port },
      tls: { ca: readFileSync(pki.ca), cert: readFileSync(pki.noc.cert), key: readFileSync(pki.noc.key) },
      timeoutMs: 5000,
      log,
    });
    const target = (replica: string, service: string, role: string, host: string, port: number) => ({
      service,
      role,
      replica,
      host,
      port: { name: "http", port, protocol: "tcp" },
      address: "127.0.0.1",
    });
    // www-0 answers; db-0's server is gone (port 1: nothing listens there).
    monitor = new Monitor({
      targets: [target("www-0", "www", "web", "h1", web.port), target("db-0", "db", "web", "h3", 1)],
      settings: nocSettingsSchema.parse({ intervalMs: 1000, timeoutMs: 8000, historyMinutes: 60 }),
      domain: plan.domain,
      log,
      power,
    });
    power.start();
    monitor.start();
    noc = await startNocWeb({
      model,
      monitor,
      username: "operator",
      password: "s3cret-test-pass",
      log,
      refreshMs: 1000,
      historyMinutes: 60,
      port: 0,
      host: "127.0.0.1",
    });
    browser = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await noc?.close();
    await monitor?.stop();
    await power?.stop();
    await Promise.all(Object.values(agents).map((a) => a.management.close()));
    await web?.close();
  });

  it("greys db-0 when its host loses power, and colours the host, rack and PDUs", async () => {
    const context = await browser.newContext({
      httpCredentials: { username: "operator", password: "s3cret-test-pass" },
      viewport: { width: 1100, height: 900 },
    });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${noc.port}/`);
    const attr = (selector: string, name: string) =>
      page.waitForFunction(([s, n]) => document.querySelector(s!)?.getAttribute(n!) ?? null, [selector, name] as const).then((h) => h.jsonValue());
    const waitFor = (selector: string, name: string, value: string) =>
      page.waitForFunction(([s, n, v]) => document.querySelector(s!)?.getAttribute(n!) === v, [selector, name, value] as const, { timeout: 45_000 });

    // Both agents read powered; db-0's server does not answer on a powered host: a red, failed server.
    await waitFor('[data-host="h3"]', "data-power", "powered");
    await waitFor('[data-replica="db-0"]', "data-state", "down");
    expect(await attr('[data-host="h2"]', "data-power")).toBe("unknown"); // no agent read for h2
    expect(await page.locator('[data-replica="db-0"] rect').getAttribute("fill")).toBe(STATE_COLOURS.down);
    await page.screenshot({ path: join(ARTIFACTS, "noc-power-on.png"), fullPage: true });

    // The operator cuts h3's only feed (A).
    expect(await curlPower(ADDRESS.h3, agents.h3!.management.port, pki.ca, pki.operator, { feeds: { A: false } })).toBe("200");
    await waitFor('[data-host="h3"]', "data-power", "unpowered");
    await waitFor('[data-replica="db-0"]', "data-state", "no-power");
    expect(await page.locator('[data-replica="db-0"] rect').getAttribute("fill")).toBe(STATE_COLOURS["no-power"]);
    expect(POWER_STYLE_ATTRS["hostbox-unpowered"]).toContain(`fill="${await page.locator('[data-host="h3"] > rect').getAttribute("fill")}"`);
    expect(await page.locator('[data-host="h3"]').textContent()).toContain("no power");
    expect(await attr('[data-host="h1"]', "data-power")).toBe("powered");
    expect(await attr('[data-replica="www-0"]', "data-state")).toBe("up");
    expect(await attr('[data-rack="r1"]', "data-power")).toBe("partial"); // h1 powered, h3 not, h2 unread
    expect(await attr('[data-pdu="r1-pdu-a"]', "data-power")).toBe("powered"); // h1's PSU on it still has input
    expect(await page.locator('g.service[data-service="db"]').textContent()).toContain("0/2 up · 1 no power");
    await page.waitForFunction(() => /1 without power/.test((document.querySelector("#power") as unknown as { textContent: string }).textContent));
    await expect(page.locator("#probes tr", { hasText: "db-0" }).locator("td.nopower").textContent()).resolves.toBe("no power");
    await page.screenshot({ path: join(ARTIFACTS, "noc-power-h3-dark.png"), fullPage: true });
    await context.close();
  }, 150_000); // waits for poll rounds and a browser: generous for a loaded machine, never a speed check
});
