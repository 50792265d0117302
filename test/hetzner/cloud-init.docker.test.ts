/**
 * The `docker run` that cloud-init's unit would execute on a Hetzner server, executed for real
 * on the local engine: the host agent image under the rendered flags (uid 1000, no
 * capabilities, sysctl, CPU quota, memory, health check, env file, read-only file mounts,
 * publish on one exact address). Planned addresses are mapped to loopback addresses and the
 * cloud-init files are written under a temporary root, so nothing leaves 127.0.0.0/8.
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { TLS_PATHS } from "../../contracts/paths";
import { HEALTH_CHECK } from "../../components/model/launch";
import { renderCloudInit, type CloudInitInput } from "../../components/targets/hetzner/cloudInit";
import { docker, dockerTestsEnabled } from "../harness/docker-cli";
import { makeManagementPki } from "../support/managementPki";

/** This area's loopback address and port (unique to test/hetzner). */
const ADDRESS = "127.0.84.1";
const PORT = 40841;
const IMAGE = "serverpark-test/hetzner-host-agent:dev";
const NAME = "sp-hetzner-test-agent";
const enabled = dockerTestsEnabled();
const root = mkdtempSync(join(tmpdir(), "sp-hetzner-root-"));
// The agent's certificate (it names the planned address and loopback) and a NOC client's.
const pki = makeManagementPki([ADDRESS, "127.0.0.1"]);
const pem = (path: string) => readFileSync(path, "utf8");

const INPUT: CloudInitInput = {
  datacenter: "fsn",
  domain: "fsn.park.example",
  host: "h9",
  networks: [{ id: "mgmt", primary: ADDRESS, aliases: [] }],
  registry: { server: "registry.example.com", username: "deploy", password: "unused" },
  volumes: [],
  containers: [
    {
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
      files: [
        { path: "/etc/serverpark/config.json", content: '{"replica":"h9"}', mode: 0o444 },
        { path: TLS_PATHS.cert, content: pem(pki.server.cert), mode: 0o444 },
        { path: TLS_PATHS.key, content: pem(pki.server.key), mode: 0o400 },
        { path: TLS_PATHS.ca, content: pem(pki.ca), mode: 0o444 },
      ],
      cpus: 0.25,
      memoryGb: 0.125,
      health: HEALTH_CHECK,
      resolvers: [],
    },
  ],
};

/** The unit's ExecStart as argv: one flag (and value) per continued line, systemd quoting undone. */
function execStart(unit: string): string[] {
  const text = /^ExecStart=([\s\S]*?)\nExecStop=/m.exec(unit)![1]!;
  const argv: string[] = [];
  for (const m of text.replace(/ \\\n\s*/g, " ").matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    argv.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!.replace(/%%/g, "%").replace(/\$\$/g, "$"));
  }
  return argv;
}

beforeAll(async () => {
  if (!enabled) return;
  if (!existsSync("images/host-agent/dist/main.mjs")) execFileSync("npx", ["tsx", "images/build.ts", "host-agent"], { stdio: "inherit", timeout: 120_000 });
  await docker(["build", "-q", "-t", IMAGE, "images/host-agent"], { env: { DOCKER_BUILDKIT: "0" }, timeoutMs: 180_000 });
  await docker(["rm", "-f", NAME], { allowFailure: true });
}, 240_000);

afterAll(async () => {
  if (enabled) await docker(["rm", "-f", NAME], { allowFailure: true });
  rmSync(root, { recursive: true, force: true });
});

describe.runIf(enabled)("the rendered unit's docker run on a real engine", () => {
  it("starts the container healthy, serving only on its planned address", async () => {
    const doc = parse(renderCloudInit(INPUT));
    // What cloud-init would write (decoded), under a temporary root; runcmd's chown to uid 1000 included.
    for (const f of doc.write_files as { path: string; content: string; encoding?: string; permissions: string }[]) {
      const path = join(root, f.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.encoding === "gz+b64" ? gunzipSync(Buffer.from(f.content, "base64")) : f.content, { mode: parseInt(f.permissions, 8) });
      if (f.path.startsWith("/etc/serverpark/containers/")) chownSync(path, 1000, 1000);
    }
    const unit = doc.write_files.find((f: { path: string }) => f.path === "/etc/systemd/system/serverpark-host-agent.service").content as string;
    const argv = execStart(unit)
      .slice(1) // /usr/bin/docker
      .map((a) => a.replace("${SP_PUBLIC_IPV4}", ADDRESS).replace(/^\/etc\/serverpark\//, `${root}/etc/serverpark/`))
      .map((a) => (a === "--rm" ? "--detach" : a === "fsn-host-agent" ? NAME : a));
    expect(argv.slice(0, 4)).toEqual(["run", "--detach", "--name", NAME]);
    await docker(argv);

    // Healthy by its own health check (bounded wait).
    let health = "";
    for (let i = 0; i < 60 && health !== "healthy"; i++) {
      health = (await docker(["inspect", "--format", "{{.State.Health.Status}}", NAME])).stdout.trim();
      if (health !== "healthy") await new Promise((r) => setTimeout(r, 1000));
    }
    expect(health).toBe("healthy");
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
    expect(inspect.HostConfig.PortBindings).toEqual({ [`${PORT}/tcp`]: [{ HostIp: ADDRESS, HostPort: String(PORT) }] });
    // The runtime config is mounted read-only and readable by the service user.
    const cat = await docker(["exec", NAME, "cat", "/etc/serverpark/config.json"]);
    expect(cat.stdout).toBe('{"replica":"h9"}');
    const write = await docker(["exec", NAME, "node", "-e", "require('fs').writeFileSync('/etc/serverpark/config.json', 'x')"], { allowFailure: true });
    expect(write.stderr).toMatch(/EROFS|read-only/);
  }, 120_000);
});
