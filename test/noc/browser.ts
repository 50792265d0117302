/**
 * Headless Chromium for the page tests: Debian's /usr/bin/chromium driven by playwright-core
 * (never a downloaded browser). Missing browser: the test is skipped with the reason,
 * except under CI=true where it fails.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ARTIFACTS = join(__dirname, "..", "..", "test-artifacts");

/** Why browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `${CHROMIUM} not found (apt-get install -y chromium, or bash scripts/setup-clients.sh)`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
  console.warn(`skipping browser tests: ${reason}`);
  return reason;
}

/** @param trustSpki base64 SHA-256 pins of server keys to accept (a test server's certificate from a throwaway CA), nothing else. */
export async function launchChromium(trustSpki: readonly string[] = []): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    // A fresh profile per run: playwright passes its own temporary --user-data-dir.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      ...(trustSpki.length ? [`--ignore-certificate-errors-spki-list=${trustSpki.join(",")}`] : []),
    ],
  });
}
