/**
 * Targets are interchangeable: the Hetzner stack's spec run through the Docker target gives
 * the same plan as the planner alone (and as the Hetzner target, same-plan-hetzner.test.ts),
 * and the containers carry exactly the planned addresses and zones.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { ProgramResult } from "../../components/program";
import { roleImageSource } from "../../components/targets/docker/images";
import { runUnderMocks, type MockRun } from "../support/pulumiMocks";
import { planEssence, specWith, stackFile } from "./fixture";
import { configWithView, uploadsOf } from "../support/runtimeConfig";

let run: MockRun<ProgramResult>;
const { plan: expected } = specWith();

beforeAll(async () => {
  run = await runUnderMocks(async () => (await import("../../components/program.js")).runProgram(), {
    stack: "hetzner",
    config: { ...stackFile.config, "serverpark:target": "docker" },
  });
}, 120_000);

describe("the hetzner spec on the docker target", () => {
  it("plans exactly what the planner plans: placement, addresses, DNS, exposure", () => {
    expect(planEssence(run.exports.plan)).toEqual(planEssence(expected));
  });

  it("gives every container its planned address on every network", () => {
    const containers = run.byType("docker:index/container:Container");
    expect(containers.length).toBeGreaterThan(0);
    for (const c of containers) {
      const replica = expected.replicas.find((r) => `fsn-${r.id}` === c.inputs.name);
      const host = expected.hosts.find((h) => `fsn-host-${h.id}` === c.inputs.name);
      const want = replica?.addresses ?? host?.addresses;
      expect(want, c.inputs.name).toBeDefined();
      const got = Object.fromEntries(
        (c.inputs.networksAdvanced as any[]).filter((n) => n.ipv4Address).map((n) => [n.name.replace(/^fsn-/, ""), n.ipv4Address]),
      );
      expect(got, c.inputs.name).toEqual(want);
    }
  });

  it("hands the DNS replicas the planned zones", () => {
    const dns = run.byType("docker:index/container:Container").filter((c) => /^fsn-ns-\d$/.test(c.inputs.name));
    expect(dns.length).toBe(roleImageSource("dns") ? 2 : 0);
    for (const c of dns) {
      const config = configWithView(uploadsOf(c.inputs.uploads));
      expect(config.zones).toEqual(expected.zones);
    }
  });
});
