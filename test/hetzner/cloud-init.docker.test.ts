/**
 * The `docker run` of the unit the deployment copies to a Hetzner server, executed for real
 * on the local engine: the host agent image under the rendered flags (uid 1000, no
 * capabilities, sysctl, CPU quota, memory, health check, environment, read-only file mounts
 * with the launch's modes, publish on one exact address). Planned addresses are mapped to
 * loopback addresses and the copied files are written under a temporary root (owner and mode
 * as the deployment's start command sets them), so nothing leaves 127.0.0.0/8.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TLS_PATHS } from "../../contracts/paths";
import { HEALTH_CHECK } from "../../components/model/launch";
import { healthy } from "../../components/targets/hetzner/deploy";
import { containerDir, renderUnit, serverFilePath, type ServerContainer, type ServerFile } from "../../components/targets/hetzner/units";
import { docker, dockerTestsEnabled } from "../harness/docker-cli";
import { execStart } from "./deployed";
import { makeManagementPki } from "../support/managementPki";

/** This area's loopback address and port (unique to test/hetzner). */
const ADDRESS = "127.0.84.1";
const PORT = 40841;
const IMAGE = "serverpark-test/hetzner-host-agent:dev";
const NAME = "sp-hetzner-test-agent";
/** Stands in for the server's closed container network (egress.test covers its rules). */
const NETWORK = "sp-hetzner-test-closed";
const enabled = dockerTestsEnabled();
const root = mkdtempSync(join(tmpdir(), "sp-hetzner-root-"));
// The agent's certificate (it names the planned address and loopback) and a NOC client's.
const pki = makeManagementPki([ADDRESS, "127.0.0.1"]);
const pem = (path: string) => readFileSync(path, "utf8");

const FILES: ServerFile[] = [
  { path: "/etc/serverpark/config.json", content: '{"replica":"h9"}', mode: 0o444 },
  { path: TLS_PATHS.cert, content: pem(pki.server.cert), mode: 0o444 },
  { path: TLS_PATHS.key, content: pem(pki.server.key), mode: 0o400 },
  { path: TLS_PATHS.ca, content: pem(pki.ca), mode: 0o444 },
];

const AGENT: ServerContainer = {
  id: "host-agent",
  image: IMAGE,
  hostname: "host-h9",
  env: {
    SP_DATACENTER: "fsn",
    SP_HOST_ID: "h9",
    SP_RACK: "r1",
    SP_HOST_KIND: "dedicated",
    SP_PSUS: JSON.stringify([{ pdu: "r1-pdu-a", feed: "A" }]),
    SP_MGMT_PORT: String(PORT),
    // As the Hetzner target renders it (components/targets/hetzner/containers.ts): every address
    // of the container's own namespace, published on the planned one by the unit.
    SP_MGMT_ADDRESS: "0.0.0.0",
  },
  ports: [{ address: ADDRESS, port: PORT, protocol: "tcp" }],
  files: FILES.map(({ path, mode }) => ({ path, mode })),
  cpus: 0.25,
  memoryGb: 0.125,
  health: HEALTH_CHECK,
  resolvers: [],
  internet: false,
};

beforeAll(async () => {
  if (!enabled) return;
  if (!existsSync("images/host-agent/dist/main.mjs")) execFileSync("npx", ["tsx", "images/build.ts", "host-agent"], { stdio: "inherit", timeout: 120_000 });
  await docker(["build", "-q", "-t", IMAGE, "images/host-agent"], { env: { DOCKER_BUILDKIT: "0" }, timeoutMs: 180_000 });
  await docker(["rm", "-f", NAME], { allowFailure: true });
  await docker(["network", "rm", NETWORK], { allowFailure: true });
  await docker(["network", "create", NETWORK]);
}, 240_000);

afterAll(async () => {
  if (enabled) {
    await docker(["rm", "-f", NAME], { allowFailure: true });
    await docker(["network", "rm", NETWORK], { allowFailure: true });
  }
  rmSync(root, { recursive: true, force: true });
});

describe.runIf(enabled)("the rendered unit's docker run on a real engine", () => {
  it("starts the container healthy, serving only on its planned address", async () => {
    // What the deployment copies (deploy.ts), under a temporary root, then owned by uid 1000 with the launch's mode.
    for (const f of FILES) {
      const path = join(root, serverFilePath(AGENT.id, f.path));
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.content, { mode: f.mode });
      chownSync(path, 1000, 1000);
    }
    // The container's directory is root's alone, as the deployment creates it.
    chmodSync(join(root, containerDir(AGENT.id)), 0o700);
    chmodSync(join(root, containerDir(AGENT.id), "files"), 0o700);
    const unit = renderUnit("fsn", "fsn.park.example", "h9", AGENT);
    const argv = execStart(unit)
      .slice(1) // /usr/bin/docker
      .map((a) => a.replace("${SP_PUBLIC_IPV4}", ADDRESS).replace(/^\/etc\/serverpark\//, `${root}/etc/serverpark/`))
      .map((a) => (a === "--rm" ? "--detach" : a === "fsn-host-agent" ? NAME : a === "sp-closed" ? NETWORK : a));
    expect(argv.slice(0, 4)).toEqual(["run", "--detach", "--name", NAME]);
    await docker(argv);

    // Healthy by its own health check: the deployment's start waits for it exactly so (bounded).
    const wait = spawnSync("sh", ["-c", healthy(NAME)], { encoding: "utf8", timeout: 600_000 });
    expect(wait.status, wait.stderr).toBe(0);
    const health = (await docker(["inspect", "--format", "{{.State.Health.Status}}", NAME])).stdout.trim();
    expect(health).toBe("healthy");
    // …and gives up, naming the container, on one that never gets there.
    const missing = spawnSync("sh", ["-c", healthy("sp-hetzner-test-absent", 1)], { encoding: "utf8", timeout: 60_000 });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/serverpark: sp-hetzner-test-absent is not healthy after 5 s/);
    // On its planned address: mutual TLS only — the NOC's certificate reads, no certificate gets nothing.
    const curl = (...args: string[]) => {
      try {
        return execFileSync(
          "curl",
          ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--cacert", pki.ca, ...args, `https://${ADDRESS}:${PORT}/healthz`],
          {
            encoding: "utf8",
          },
        );
      } catch (e) {
        return `curl exit ${(e as { status?: number }).status}`;
      }
    };
    expect(curl("--cert", pki.noc.cert, "--key", pki.noc.key)).toBe("200");
    expect(curl()).toMatch(/^curl exit/);

    // The hardening the engine actually applied.
    const inspect = JSON.parse((await docker(["inspect", NAME])).stdout)[0];
    expect(inspect.Config.User).toBe("1000:1000");
    expect(inspect.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(inspect.HostConfig.SecurityOpt).toEqual(["no-new-privileges:true"]);
    expect(inspect.HostConfig.Sysctls).toEqual({ "net.ipv4.ip_unprivileged_port_start": "0" });
    expect(inspect.HostConfig.CpuQuota).toBe(25000);
    expect(inspect.HostConfig.Memory).toBe(128 * 1024 * 1024);
    expect(Object.keys(inspect.NetworkSettings.Networks)).toEqual([NETWORK]);
    expect(inspect.HostConfig.PortBindings).toEqual({ [`${PORT}/tcp`]: [{ HostIp: ADDRESS, HostPort: String(PORT) }] });
    // The environment in the unit reached the container unchanged (JSON quotes through systemd's quoting).
    expect(inspect.Config.Env).toEqual(expect.arrayContaining(Object.entries(AGENT.env).map(([k, v]) => `${k}=${v}`)));
    // The key is the service user's alone.
    const stat = await docker([
      "exec",
      NAME,
      "node",
      "-e",
      `const s = require("fs").statSync(${JSON.stringify(TLS_PATHS.key)}); console.log(s.uid, (s.mode & 0o777).toString(8))`,
    ]);
    expect(stat.stdout.trim()).toBe("1000 400");
    // The runtime config is mounted read-only and readable by the service user.
    const cat = await docker(["exec", NAME, "cat", "/etc/serverpark/config.json"]);
    expect(cat.stdout).toBe('{"replica":"h9"}');
    const write = await docker(["exec", NAME, "node", "-e", "require('fs').writeFileSync('/etc/serverpark/config.json', 'x')"], { allowFailure: true });
    expect(write.stderr).toMatch(/EROFS|read-only/);
  }, 120_000);
});
