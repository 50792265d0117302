/**
 * Debian tools the cloud-init checks use (`apt-get install -y cloud-init shellcheck`). Missing
 * tools skip their test with a printed reason, except in CI, where they fail it.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
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

/**
 * Holds an exclusive lock on the host's networking for the test files that rewrite it
 * (iptables chains jumped to from DOCKER-USER, veth links, namespaces): vitest runs test files
 * in parallel, and one file's rule changes and clean-up in the middle of another's before/after
 * checks make its verdicts depend on timing. `flock` (util-linux) holds the lock in a child
 * process until the returned function is called.
 */
export async function lockHostNetworking(): Promise<() => void> {
  // A process group of its own, killed whole on release: flock and the command it holds the lock for.
  const holder = spawn("flock", ["/tmp/serverpark-host-networking.lock", "-c", "echo locked; exec sleep infinity"], {
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once("data", () => resolve());
    holder.once("exit", (code) => reject(new Error(`flock exited (${code}) before taking the host-networking lock`)));
  });
  const release = () => {
    try {
      process.kill(-holder.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  };
  // A worker that dies between beforeAll and afterAll must not leave the lock held for good.
  process.once("exit", release);
  return release;
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
