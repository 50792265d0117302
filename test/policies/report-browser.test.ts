/**
 * The HTML Statement of Applicability in headless Chromium (Debian's, through playwright-core):
 * the local stack's report with a fresh chaos run as evidence renders all 93 controls, stays
 * within a 1280-pixel-wide window (no sideways scrolling at 93 rows), and shows A.5.29 passing
 * with the run's date and file. Screenshot: test-artifacts/compliance-local.png.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkStack } from "../../components/compliance/check";
import { judgeEvidence, readEvidenceDir, stackFileHash, writeEvidence } from "../../components/compliance/evidence";
import { renderHtml } from "../../components/compliance/render";
import { buildReport } from "../../components/compliance/report";
import { loadStackFile } from "../../components/spec/load";
import { POLICIES } from "../../policies/rules";
import { ARTIFACTS, browserMissing, launchChromium } from "../noc/browser";

const ROOT = join(__dirname, "..", "..");
const missing = browserMissing();
let browser: Browser | undefined;
beforeAll(async () => {
  if (!missing) browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe.skipIf(missing !== undefined)("the compliance report in Chromium", () => {
  it("renders every control readably, with the chaos run's date and file", async () => {
    const file = loadStackFile("local", ROOT);
    const dir = mkdtempSync(join(tmpdir(), "sp-soa-browser-"));
    const date = new Date(Date.now() - 86_400_000).toISOString();
    writeEvidence(dir, {
      format: "serverpark-evidence/v1",
      kind: "chaos",
      date,
      stack: "local",
      stackHash: stackFileHash(file.path),
      result: "pass",
      controls: ["A.5.29", "A.5.30"],
      summary: "host:h3@0/2m at speed 60: all probes went down and came back as predicted",
    });
    const runs = judgeEvidence(readEvidenceDir(dir), { stack: "local", stackHash: stackFileHash(file.path), now: new Date() });
    const html = renderHtml(buildReport(await checkStack(file, { root: ROOT }), POLICIES, runs));

    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    await page.setContent(html, { waitUntil: "load" });
    expect(await page.locator("tbody tr").count()).toBe(93);
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(1280);
    const row = page.locator('tr[id="A.5.29"]');
    await expect(row.locator("td.r").textContent()).resolves.toBe("PASS");
    await expect(row.textContent()).resolves.toContain(`chaos run ${date}`);
    await expect(row.textContent()).resolves.toMatch(/chaos-local-.*\.json/);
    // Every result cell is on screen width-wise and not empty.
    const cells = await page.locator("td.r").evaluateAll((tds) => tds.map((td) => ({ text: td.textContent, right: td.getBoundingClientRect().right })));
    expect(cells).toHaveLength(93);
    for (const c of cells) {
      expect(c.text).toMatch(/^(PASS|FAIL|ADVISORY|STALE|NO EVIDENCE|NOT APPLICABLE|NOT ADDRESSED)$/);
      expect(c.right).toBeLessThanOrEqual(1280);
    }
    await page.screenshot({ path: join(ARTIFACTS, "compliance-local.png"), fullPage: true });
    await page.close();
  }, 180_000);
});
