/**
 * `serverpark lab up|status|down` as a user runs it (the CLI as a child process) on a small
 * stack of its own (test/lab/fixtures/Pulumi.labtest.yaml: datacenter labt, 10.42.110-113/24,
 * ports from 32000): deploy, reach the site through the proxy with curl, refuse a second
 * `up` while one holds the stack, replace only what a change touches, remove everything.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { describeE2e } from "./facts";
import { lockStack, statePath } from "../../lab/state";

const run = promisify(execFile);
const ROOT = join(__dirname, "..", "..");
const FIXTURE = join(ROOT, "test", "lab", "fixtures", "Pulumi.labtest.yaml");
const STACK = "labtest";

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

async function lab(...args: string[]): Promise<Cli> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, "bin", "serverpark.js"), "lab", ...args], { cwd: ROOT, timeout: 400_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? err.message };
  }
}

async function owned(kind: "ps -a" | "network ls" | "volume ls"): Promise<string[]> {
  const format = kind === "ps -a" ? "{{.Names}}" : "{{.Name}}";
  const { stdout } = await run("docker", [...kind.split(" "), "--filter", `label=serverpark.lab=${STACK}`, "--format", format]);
  return stdout.split("\n").filter(Boolean).sort();
}

/** The site's front page through the proxy; the query keeps the proxy's cache (60 s for this site) out of it. */
async function curlSite(port: string): Promise<{ status: string; body: string }> {
  const url = `https://${port}/?fresh=${Date.now()}`;
  const { stdout } = await run("curl", ["-sk", "--max-time", "10", "-H", "Host: www.labt.park.test", "-w", "\n%{http_code}", url]);
  const lines = stdout.split("\n");
  return { status: lines.at(-1)!, body: lines.slice(0, -1).join("\n") };
}

describeE2e("serverpark lab on the real Docker engine", () => {
  afterAll(async () => {
    await lab("down", STACK);
  });

  let https = "";

  it("deploys the stack, reports it healthy and serves the site through the proxy", async () => {
    await lab("down", STACK); // a leftover of an interrupted run
    const up = await lab("up", FIXTURE);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/All 4 containers healthy [\d.]+ s after the start/);
    expect(up.stderr).toMatch(/lab up: containers: 4 created, 0 replaced, 0 removed, 0 unchanged/);
    https = /^(127\.0\.0\.1:\d+)\s+edge-0 https$/m.exec(up.stdout)?.[1] ?? "";
    expect(https, up.stdout).toBe("127.0.0.1:32001");
    expect(await owned("ps -a")).toEqual(["labt-edge-0", "labt-host-h1", "labt-host-h2", "labt-www-0"]);
    expect((await owned("network ls")).length).toBe(3); // one per planned network

    const status = await lab("status", STACK, "--json");
    expect(status.code, status.stderr).toBe(0);
    const parsed = JSON.parse(status.stdout) as { deployed: boolean; healthy: boolean; containers: { health: string }[]; state: Record<string, unknown> };
    expect(parsed).toMatchObject({ deployed: true, healthy: true });
    expect(parsed.containers.map((c) => c.health)).toEqual(["healthy", "healthy", "healthy", "healthy"]);
    expect(parsed.state).not.toHaveProperty("outputs"); // generated secrets are never printed

    const site = await curlSite(https);
    expect(site.status).toBe("200");
    // The state holds generated secrets: readable by its owner only.
    const mode = (await run("stat", ["-c", "%a", statePath(ROOT, STACK)])).stdout.trim();
    expect(mode).toBe("600");
  });

  it("refuses a second `up` while another command holds the stack, and creates nothing", async () => {
    const release = lockStack(ROOT, STACK);
    try {
      const second = await lab("up", FIXTURE);
      expect(second.code).toBe(3);
      expect(second.stderr).toMatch(/another serverpark lab command \(pid \d+\) is working on stack "labtest"/);
    } finally {
      release();
    }
    expect(await owned("ps -a")).toEqual(["labt-edge-0", "labt-host-h1", "labt-host-h2", "labt-www-0"]);
  });

  it("a second `up` of a changed stack replaces only the container the change reaches", async () => {
    const changed = readFileSync(FIXTURE, "utf8").replace(
      "{ id: www, role: web, replicas: 1, plan: vps-s, networks: [private] }",
      '{ id: www, role: web, replicas: 1, plan: vps-s, networks: [private], settings: { sites: [{ host: www.labt.park.test, default: true, files: { "index.html": "second edition" } }] } }',
    );
    const path = join(mkdtempSync(join(tmpdir(), "sp-lab-e2e-")), "Pulumi.labtest.yaml");
    writeFileSync(path, changed);
    const up = await lab("up", path, "--json");
    expect(up.code, up.stderr).toBe(0);
    const result = JSON.parse(up.stdout) as { summary: Record<"created" | "replaced" | "removed" | "unchanged", { name: string }[]> };
    const names = (k: keyof typeof result.summary) => result.summary[k].map((o) => o.name).sort();
    expect(names("replaced")).toEqual(["labt-www-0"]);
    expect(names("created")).toEqual([]);
    expect(names("removed")).toEqual([]);
    expect(names("unchanged")).toEqual(expect.arrayContaining(["labt-edge-0", "labt-host-h1", "labt-host-h2"]));
    const site = await curlSite(https);
    expect(site).toEqual({ status: "200", body: "second edition" });

    // The same stack again: nothing to do.
    const again = await lab("up", path, "--json");
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as typeof result;
    expect(second.summary.replaced).toEqual([]);
    expect(second.summary.created).toEqual([]);
  });

  it("`down` removes every container, network and volume and the state; a second `down` says it is not deployed", async () => {
    const down = await lab("down", STACK);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/Stack labtest removed/);
    expect(await owned("ps -a")).toEqual([]);
    expect(await owned("network ls")).toEqual([]);
    expect(await owned("volume ls")).toEqual([]);
    expect(existsSync(statePath(ROOT, STACK))).toBe(false);
    const again = await lab("down", STACK);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/not deployed by serverpark lab; nothing to remove/);
    const status = await lab("status", STACK, "--json");
    expect(JSON.parse(status.stdout)).toMatchObject({ deployed: false });
  });
});
