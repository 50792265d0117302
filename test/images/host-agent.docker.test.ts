/**
 * The host-agent image on the real engine: built like the Docker target builds it,
 * within the size budget, non-root, healthy through its own HEALTHCHECK, unhealthy
 * when it loses power, and stopped gracefully (exit 0) by `docker stop`.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { buildRole } from "../../images/build";
import { docker, dockerTestsEnabled } from "../harness/docker-cli";
import { DockerHarness, type RecordedResource } from "../harness/docker-harness";

const ROOT = join(__dirname, "..", "..");
const IMAGE = "serverpark-test/host-agent:dev";
const CONTAINER = "sp-image-test-host-agent";

const resources: RecordedResource[] = [
  {
    type: "docker:index/image:Image",
    name: "host-agent",
    inputs: {
      imageName: IMAGE,
      skipPush: true,
      build: { context: "images/host-agent", dockerfile: "images/host-agent/Dockerfile", args: { VERSION: "test" } },
    },
  },
  {
    type: "docker:index/container:Container",
    name: "h1",
    inputs: {
      name: CONTAINER,
      image: IMAGE,
      envs: [
        "SP_DATACENTER=test",
        // A bare run without the datacenter's certificates: plain HTTP must be asked for.
        "SP_MGMT_INSECURE=true",
        "SP_HOST_ID=h1",
        "SP_RACK=r1",
        "SP_HOST_KIND=virtualization",
        `SP_PSUS=${JSON.stringify([
          { pdu: "pa", feed: "A" },
          { pdu: "pb", feed: "B" },
        ])}`,
      ],
      ports: [{ internal: 9100, ip: "127.0.0.1" }],
      // The image's own check command, run more often so the test is quick.
      healthcheck: { tests: ["CMD", "node", "/app/healthcheck.mjs"], interval: "1s", timeout: "3s", retries: 1 },
    },
  },
];

const enabled = dockerTestsEnabled();

describe.runIf(enabled)("host-agent image", () => {
  const harness = new DockerHarness({ cwd: ROOT });
  let base = "";

  beforeAll(async () => {
    // Only when missing (setup builds every bundle): buildRole empties dist/ first, and other
    // test files build images from this same folder at the same time.
    if (!existsSync("images/host-agent/dist/main.mjs")) await buildRole("host-agent");
    await harness.sweepStale();
    await harness.apply(resources);
    await harness.waitHealthy(CONTAINER, 30_000);
    const ports = ((await harness.inspect(CONTAINER, "container")).NetworkSettings as any).Ports["9100/tcp"];
    base = `http://127.0.0.1:${ports[0].HostPort}`;
  });
  afterAll(() => harness.destroy());

  it("follows the image rules: size, user, labels, healthcheck, entrypoint", async () => {
    const image = await harness.inspect(IMAGE, "image");
    const config = image.Config as Record<string, any>;
    expect(image.Size as number).toBeLessThan(150_000_000);
    expect(config.User).toBe("node");
    expect(config.Labels).toMatchObject({ "org.opencontainers.image.title": "serverpark-host-agent", "org.opencontainers.image.version": "test" });
    expect(config.Healthcheck.Test).toEqual(["CMD", "node", "/app/healthcheck.mjs"]);
    expect(config.Entrypoint).toEqual(["node", "/app/main.mjs"]);
  });

  it("turns unhealthy when both feeds fail, and healthy again when power returns", async () => {
    const power = (feeds: Record<string, boolean>) => fetch(`${base}/power`, { method: "POST", body: JSON.stringify({ feeds }) });
    expect((await power({ A: false, B: false })).status).toBe(200);
    await expect
      .poll(async () => ((await harness.inspect(CONTAINER, "container")).State as any).Health.Status, { timeout: 15_000, interval: 250 })
      .toBe("unhealthy");
    await power({ A: true, B: true });
    await harness.waitHealthy(CONTAINER, 15_000);
  });

  it("stops gracefully on docker stop", async () => {
    await docker(["stop", CONTAINER]);
    const state = (await harness.inspect(CONTAINER, "container")).State as { ExitCode: number };
    expect(state.ExitCode).toBe(0);
    const { stdout } = await docker(["logs", "--tail", "3", CONTAINER]);
    expect(stdout).toContain('"msg":"shutdown complete"');
  });
});
