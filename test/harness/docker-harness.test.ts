/**
 * The Docker test harness against the real engine: resources recorded as Pulumi would
 * send them come up as real containers on real networks, and destroy() leaves nothing.
 * Uses only 10.42.250.0/23 and 10.42.252.0/24, and talks only to 127.0.0.1 and the
 * test's own containers.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, dockerLines, dockerTestsEnabled } from "./docker-cli";
import { DockerHarness, PID_LABEL, RUN_LABEL, type RecordedResource } from "./docker-harness";
import { egress } from "./egress";

const ROOT = join(__dirname, "..", "..");
const IMAGE = "serverpark-test/harness-probe:dev";
const HEALTH = {
  tests: ["CMD", "node", "-e", "fetch('http://127.0.0.1:8080').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"],
  interval: "1s",
  timeout: "3s",
  retries: 3,
};

const resources: RecordedResource[] = [
  { type: "docker:index/volume:Volume", name: "data", inputs: { name: "sp-harness-data", labels: [{ label: "serverpark.test", value: "harness" }] } },
  {
    type: "docker:index/network:Network",
    name: "internal",
    inputs: { name: "sp-harness-internal", driver: "bridge", internal: true, ipamConfigs: [{ subnet: "10.42.250.0/24", gateway: "10.42.250.1" }] },
  },
  {
    type: "docker:index/network:Network",
    name: "front",
    inputs: { name: "sp-harness-front", ipamConfigs: [{ subnet: "10.42.251.0/24", gateway: "10.42.251.1", ipRange: "10.42.251.128/25" }] },
  },
  {
    type: "docker:index/image:Image",
    name: "probe",
    inputs: { imageName: IMAGE, skipPush: true, build: { context: "test/harness/fixtures/probe-image", builderVersion: "BuilderV1" } },
  },
  {
    type: "docker:index/container:Container",
    name: "backend",
    inputs: {
      name: "sp-harness-backend",
      image: IMAGE,
      hostname: "backend-1",
      envs: ["SP_PROBE=backend"],
      labels: [{ label: "serverpark.role", value: "probe" }],
      networksAdvanced: [{ name: "sp-harness-internal", ipv4Address: "10.42.250.10", aliases: ["backend"] }],
      volumes: [{ volumeName: "sp-harness-data", containerPath: "/data" }],
      uploads: [{ file: "/etc/sp/greeting.txt", content: "hello from an upload" }],
      healthcheck: HEALTH,
      memory: 96,
      cpus: "0.5",
      capabilities: { drops: ["ALL"] },
      restart: "on-failure",
      maxRetryCount: 2,
      stopTimeout: 5,
      wait: true,
      waitTimeout: 30,
    },
  },
  {
    type: "docker:index/container:Container",
    name: "frontend",
    inputs: {
      name: "sp-harness-frontend",
      image: IMAGE,
      envs: ["SP_PROBE=frontend"],
      networksAdvanced: [
        { name: "sp-harness-front", ipv4Address: "10.42.251.10", aliases: ["www"] },
        { name: "sp-harness-internal", ipv4Address: "10.42.250.20", aliases: ["frontend"] },
      ],
      ports: [{ internal: 8080 }],
      readOnly: true,
      healthcheck: HEALTH,
    },
  },
];

const enabled = dockerTestsEnabled();

describe.runIf(enabled)("DockerHarness on the real engine", () => {
  const harness = new DockerHarness({ cwd: ROOT });
  const byRun = (kind: string[]) => dockerLines([...kind, "--filter", `label=${RUN_LABEL}=${harness.runId}`, "--format", "{{.ID}}"]);

  beforeAll(async () => {
    await harness.sweepStale();
    await harness.apply(resources);
    await harness.waitHealthy("sp-harness-frontend", 30_000);
  });
  afterAll(() => harness.destroy());

  it("applies the documented inputs", async () => {
    const backend = await harness.inspect("sp-harness-backend", "container");
    const host = backend.HostConfig as Record<string, any>;
    expect(host.Memory).toBe(96 * 1024 * 1024);
    expect(host.NanoCpus).toBe(0.5e9);
    expect(host.CapDrop).toEqual(["ALL"]);
    expect(host.RestartPolicy).toEqual({ Name: "on-failure", MaximumRetryCount: 2 });
    const config = backend.Config as Record<string, any>;
    expect(config.Hostname).toBe("backend-1");
    expect(config.Labels).toMatchObject({ "serverpark.role": "probe", [RUN_LABEL]: harness.runId });
    expect(config.StopTimeout).toBe(5);
    const frontend = await harness.inspect("sp-harness-frontend", "container");
    expect((frontend.HostConfig as Record<string, any>).ReadonlyRootfs).toBe(true);
    const network = await harness.inspect("sp-harness-internal", "network");
    expect(network.Internal).toBe(true);
    expect((network.IPAM as any).Config).toEqual([{ Subnet: "10.42.250.0/24", Gateway: "10.42.250.1" }]);
  });

  it("gives a container on an internal network no way out", async () => {
    const { stdout } = await harness.exec("sp-harness-backend", ["cat", "/proc/net/route"]);
    const routes = stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.split(/\s+/));
    expect(routes.map((r) => r[1])).toContain("00FA2A0A"); // 10.42.250.0/24, little-endian
    // Docker >= 25: no default route at all; 20.10: only via the internal gateway 10.42.250.1.
    for (const route of routes.filter((r) => r[1] === "00000000")) expect(route[2]).toBe("01FA2A0A");
    expect(await egress(harness, "sp-harness-backend")).toMatchObject({ blocked: true });
    // The frontend also sits on a normal network, so it has a way out.
    expect(await egress(harness, "sp-harness-frontend")).toMatchObject({ blocked: false });
  });

  it("connects further networks with their addresses and aliases before start", async () => {
    const { stdout } = await harness.exec("sp-harness-frontend", ["ip", "-4", "-o", "addr"]);
    expect(stdout).toContain("10.42.251.10/24");
    expect(stdout).toContain("10.42.250.20/24");
    // By alias over the internal network, served by the backend with its uploaded file.
    const fetched = await harness.exec("sp-harness-frontend", ["node", "-e", "fetch('http://backend:8080').then(r => r.text()).then(console.log)"]);
    expect(JSON.parse(fetched.stdout)).toEqual({ hostname: "backend-1", greeting: "hello from an upload", env: "backend" });
  });

  it("publishes ports on 127.0.0.1 only", async () => {
    const frontend = await harness.inspect("sp-harness-frontend", "container");
    const [binding] = (frontend.NetworkSettings as any).Ports["8080/tcp"] as { HostIp: string; HostPort: string }[];
    expect(binding!.HostIp).toBe("127.0.0.1");
    const response = await fetch(`http://127.0.0.1:${binding!.HostPort}/`);
    expect(((await response.json()) as { env: string }).env).toBe("frontend");
  });

  it("rejects an unsupported input before creating anything", async () => {
    const bad = { type: "docker:index/container:Container", name: "bad", inputs: { name: "sp-harness-bad", image: IMAGE, gpus: "all" } };
    await expect(harness.apply([bad])).rejects.toThrow(/container "sp-harness-bad": input "gpus" is not supported/);
    const result = await docker(["inspect", "sp-harness-bad"], { allowFailure: true });
    expect(result.exitCode).not.toBe(0);
  });

  it("skips rebuilding an image whose context did not change", async () => {
    const before = await harness.inspect(IMAGE, "image");
    const builds = harness.built.length;
    await harness.apply(resources.filter((r) => r.type === "docker:index/image:Image"));
    expect((await harness.inspect(IMAGE, "image")).Id).toBe(before.Id);
    expect(harness.built.slice(builds), "no docker build ran").toEqual([]);
  });

  it("reports a container that dies before it is healthy with its logs", async () => {
    const dying: RecordedResource = {
      type: "docker:index/container:Container",
      name: "dying",
      inputs: {
        name: "sp-harness-dying",
        image: IMAGE,
        command: ["node", "-e", "console.error('config is broken'); process.exit(3)"],
        networksAdvanced: [{ name: "sp-harness-internal" }],
        healthcheck: HEALTH,
      },
    };
    await harness.apply([dying]);
    await expect(harness.waitHealthy("sp-harness-dying", 10_000)).rejects.toThrow(/exited \(exit 3\)[\s\S]*config is broken/);
  });

  it("sweeps leftovers of dead runs but never a live run's", async () => {
    const deadPid = Number(execFileSync(process.execPath, ["-e", "console.log(process.pid)"]).toString());
    const make = (name: string, run: string, pid: number, subnet: string) =>
      docker(["network", "create", "--subnet", subnet, "--label", `${RUN_LABEL}=${run}`, "--label", `${PID_LABEL}=${pid}`, name]);
    await make("sp-harness-stale", "crashed-run", deadPid, "10.42.252.0/28");
    await make("sp-harness-live", "other-live-run", process.pid, "10.42.252.16/28");
    try {
      await harness.sweepStale();
      const left = await dockerLines(["network", "ls", "--filter", "name=sp-harness-", "--format", "{{.Name}}"]);
      expect(left).not.toContain("sp-harness-stale");
      expect(left).toContain("sp-harness-live");
    } finally {
      await docker(["network", "rm", "sp-harness-live", "sp-harness-stale"], { allowFailure: true });
    }
  });

  it("destroy() removes every container, network and volume of the run", async () => {
    expect((await byRun(["ps", "-a"])).length).toBeGreaterThan(0);
    await harness.destroy();
    expect(await byRun(["ps", "-a"])).toEqual([]);
    expect(await byRun(["network", "ls"])).toEqual([]);
    expect(await byRun(["volume", "ls"])).toEqual([]);
  });
});
