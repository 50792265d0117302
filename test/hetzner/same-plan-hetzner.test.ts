/**
 * Targets are interchangeable: the Hetzner stack through the Hetzner target gives the same plan
 * as the planner alone (and as the Docker target, same-plan-docker.test.ts), and the servers
 * and replicas carry exactly the planned addresses and zones.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ROLE_VIEW_PATH, RUNTIME_CONFIG_PATH } from "../../contracts/paths";
import type { ProgramResult } from "../../components/program";
import { fileSlug } from "../../components/targets/hetzner/units";
import { roleImageSource } from "../../components/targets/docker/images";
import { runUnderMocks, type MockRun } from "../support/pulumiMocks";
import { configWithView } from "../support/runtimeConfig";
import { copiesOf } from "./deployed";
import { planEssence, REGISTRY_PASSWORD, specWith, stackFile } from "./fixture";

let run: MockRun<ProgramResult>;
const { plan: expected } = specWith();

beforeAll(async () => {
  run = await runUnderMocks(async () => (await import("../../components/program.js")).runProgram(), {
    stack: "hetzner",
    config: { ...stackFile.config, "serverpark:target": "hetzner", "serverpark:registryPassword": REGISTRY_PASSWORD },
  });
}, 120_000);

describe("the hetzner spec on the hetzner target", () => {
  it("plans exactly what the planner plans: placement, addresses, DNS, exposure", () => {
    expect(planEssence(run.exports.plan)).toEqual(planEssence(expected));
  });

  it("puts every planned address of a host and its replicas on that host's server", () => {
    for (const host of expected.hosts) {
      const server = run.byType("hcloud:index/server:Server").find((s) => s.inputs.name === `fsn-${host.id}`)!;
      const onServer = (server.inputs.networks as any[]).flatMap((n) => [n.ip, ...n.aliasIps]).sort();
      const planned = [
        ...Object.values(host.addresses),
        ...host.replicas.flatMap((id) => Object.values(expected.replicas.find((r) => r.id === id)!.addresses)),
      ].sort();
      expect(onServer, host.id).toEqual(planned);
    }
  });

  it("hands the DNS replicas the planned zones", async () => {
    const copies = await copiesOf(run);
    for (const r of expected.replicas.filter((x) => x.role === "dns")) {
      const written = (path: string) => copies.find((c) => c.remotePath === `/etc/serverpark/containers/${r.id}/files/${fileSlug(path)}`)?.content;
      const text = written(RUNTIME_CONFIG_PATH);
      expect(text === undefined, `${r.id} config present iff the dns role has an image`).toBe(roleImageSource("dns") === undefined);
      if (text === undefined) continue;
      const config = configWithView(new Map([RUNTIME_CONFIG_PATH, ROLE_VIEW_PATH].flatMap((p) => (written(p) === undefined ? [] : [[p, written(p)!]]))));
      expect(config.zones).toEqual(expected.zones);
    }
  });
});
