/**
 * Boots the local datacenter once on the real Docker engine for every e2e test file (see
 * README.md here), and removes it afterwards.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { DockerHarness, PID_LABEL, RUN_LABEL } from "../harness/docker-harness";
import { planDatacenter } from "../../components/plan";
import { loadStackFile } from "../../components/spec/load";
import { parseSpec } from "../../components/spec/validate";
import { valueOf } from "../../lab/record";
import { runUnderMocks } from "../support/pulumiMocks";
import type { E2eContainer, E2eFacts } from "./facts";

const run = promisify(execFile);
const NAME = "sptest";
const BOOT_TIMEOUT_MS = 150_000;

/** The local stack, renamed and renumbered so it never collides with a real local deploy. */
export function e2eConfig(): Record<string, unknown> {
  const file = loadStackFile("local");
  const spec = structuredClone(file.config["serverpark:datacenter"]) as any;
  spec.name = NAME;
  spec.domain = `${NAME}.park.test`;
  const renumber: Record<string, string> = { "10.42.0.0/24": "10.42.100.0/24", "10.42.1.0/24": "10.42.101.0/24", "10.42.2.0/24": "10.42.102.0/24" };
  for (const n of spec.networks) n.cidr = renumber[n.cidr] ?? n.cidr;
  spec.docker = { ...(spec.docker ?? {}), basePort: 31000, operatorCidr: "10.42.103.0/24" };
  return { ...file.config, "serverpark:datacenter": spec };
}

async function dockerAvailable(): Promise<string | undefined> {
  try {
    await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 20_000 });
    return undefined;
  } catch (e) {
    return `no Docker engine (${(e as Error).message.split("\n")[0]}); run scripts/setup-docker.sh`;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const unavailable = await dockerAvailable();
  if (unavailable) {
    if (process.env.CI === "true") throw new Error(`e2e: ${unavailable} — required when CI=true`);
    project.provide("datacenter", { skipped: unavailable, datacenter: NAME, domain: "", networks: {}, containers: [], plan: {}, deployedRoles: [] });
    return async () => {};
  }
  await run("npx", ["tsx", "images/build.ts"], { timeout: 300_000 });
  await run("bash", ["scripts/make-base-image.sh"], { timeout: 300_000 });

  const mock = await runUnderMocks(() => import("../../stacks/index.js"), { stack: "e2e", config: e2eConfig() });
  const dockerResources = mock.resources.filter((r) => r.type.startsWith("docker:"));
  const harness = new DockerHarness();
  await harness.sweepStale();
  const teardown = async () => {
    if (process.env.SP_E2E_KEEP === "1") return; // debugging: leave the datacenter running
    await harness.destroy();
  };
  try {
    await harness.apply(dockerResources);
  } catch (e) {
    await teardown();
    throw e;
  }

  const containers = mock.byType("docker:index/container:Container");
  const label = (inputs: any, key: string) => (inputs.labels as { label: string; value: string }[]).find((l) => l.label === `serverpark.${key}`)?.value;
  const networkIds = new Map(mock.byType("docker:index/network:Network").map((n) => [n.inputs.name as string, label(n.inputs, "network")!]));
  const health = await Promise.all(
    containers.map(async (c) => {
      try {
        await harness.waitHealthy(c.inputs.name, BOOT_TIMEOUT_MS);
        return "healthy";
      } catch (e) {
        return (e as Error).message.slice(0, 2000);
      }
    }),
  );
  const facts: E2eFacts = {
    datacenter: NAME,
    domain: `${NAME}.park.test`,
    networks: Object.fromEntries([...networkIds].map(([name, id]) => [id, name])),
    containers: containers.map((c, i): E2eContainer => {
      const kind = label(c.inputs, "kind") === "host" ? "host" : "replica";
      const service = label(c.inputs, "service");
      const replica = label(c.inputs, "replica");
      return {
        name: c.inputs.name,
        kind,
        role: label(c.inputs, "role")!,
        ...(service ? { service } : {}),
        ...(replica ? { replica } : {}),
        host: label(c.inputs, "host")!,
        addresses: Object.fromEntries(
          (c.inputs.networksAdvanced as { name: string; ipv4Address?: string }[])
            .filter((n) => n.ipv4Address)
            .map((n) => [networkIds.get(n.name)!, n.ipv4Address!]),
        ),
        published: publishedPorts(c.inputs),
        health: health[i]!,
      };
    }),
    // The same pure plan the program computed (stack "e2e" has no lock file).
    plan: JSON.parse(JSON.stringify(planDatacenter(parseSpec(e2eConfig()["serverpark:datacenter"])))),
    deployedRoles: [...new Set(containers.map((c) => label(c.inputs, "role")!))].sort(),
    operator: await operatorFiles(mock.exports.operatorCredentials as Parameters<typeof valueOf>[0]),
    recorded: recordedFile(dockerResources, { [RUN_LABEL]: harness.runId, [PID_LABEL]: String(process.pid) }),
  };
  project.provide("datacenter", facts);
  return teardown;
}

/** The operator's management client certificate, as an operator would save it from the stack output. */
async function operatorFiles(output: Parameters<typeof valueOf>[0]): Promise<E2eFacts["operator"]> {
  const creds = (await valueOf(output)) as { certPem: string; keyPem: string; caPem: string };
  const dir = mkdtempSync(join(tmpdir(), "sp-e2e-operator-"));
  const files = { cert: join(dir, "operator.crt"), key: join(dir, "operator.key"), ca: join(dir, "ca.crt") };
  writeFileSync(files.cert, creds.certPem);
  writeFileSync(files.key, creds.keyPem, { mode: 0o600 });
  writeFileSync(files.ca, creds.caPem);
  return files;
}

/**
 * The recorded Docker resources, for a test that rebuilds a container exactly as deployed after
 * removing it and its volumes (backup-restore.e2e.test.ts); owner-only, like the operator's key.
 */
function recordedFile(resources: readonly { type: string; name: string; inputs: unknown }[], labels: Record<string, string>): E2eFacts["recorded"] {
  const file = join(mkdtempSync(join(tmpdir(), "sp-e2e-recorded-")), "resources.json");
  writeFileSync(file, JSON.stringify(resources.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs }))), { mode: 0o600 });
  return { file, labels };
}

/** `443/tcp` → host port. */
function publishedPorts(inputs: any): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of inputs.ports ?? []) out[`${p.internal}/${p.protocol ?? "tcp"}`] = p.external;
  return out;
}
