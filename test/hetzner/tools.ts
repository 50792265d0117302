/**
 * Debian tools the cloud-init checks use (`apt-get install -y cloud-init shellcheck`). Missing
 * tools skip their test with a printed reason, except in CI, where they fail it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function hasTool(name: string): boolean {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;
  if (!found) {
    if (process.env.CI === "true") throw new Error(`${name} is required in CI: apt-get install -y cloud-init shellcheck`);
    console.warn(`skipping: ${name} is not installed (apt-get install -y cloud-init shellcheck)`);
  }
  return found;
}

/** Writes `text` to a fresh temporary file and returns its path. */
export function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "sp-hetzner-")), name);
  writeFileSync(path, text);
  return path;
}

/** `cloud-init schema` on a document: the validator cloud-init itself runs at boot. */
export function cloudInitSchema(text: string): { ok: boolean; output: string } {
  const r = spawnSync("cloud-init", ["schema", "--config-file", tempFile("user-data.yaml", text)], { encoding: "utf8", timeout: 30_000 });
  return { ok: r.status === 0 && /Valid cloud-config/.test(r.stdout + r.stderr), output: r.stdout + r.stderr };
}

/** shellcheck (POSIX sh) on a script; returns its findings, empty when clean. */
export function shellcheck(script: string): string {
  try {
    execFileSync("shellcheck", ["--shell=sh", "--severity=warning", "-"], { input: script, encoding: "utf8", timeout: 30_000 });
    return "";
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? e);
  }
}
