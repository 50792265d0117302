/**
 * The `Datacenter` component publishes the power model's verdicts as its `power` output.
 */
import { describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/spec/load";
import { runUnderMocks, valueOf } from "../support/pulumiMocks";
import { upsRuntimeSeconds, type PowerSummary } from "../../components/power";

describe("Datacenter.power", () => {
  it("carries the N-1 rows, per-service verdicts and the topology tier of the local stack", async () => {
    const stackFile = loadStackFile("local");
    const run = await runUnderMocks(async () => (await import("../../components/program.js")).runProgram(), {
      stack: "local",
      config: stackFile.config,
      realTls: false,
    });
    const power: PowerSummary = await valueOf(run.exports.datacenter.power);
    // 8 feed-side components, 6 PDUs, 3 racks, 8 hosts.
    expect(power.nMinusOne).toHaveLength(25);
    expect(power.verdicts.find((v) => v.service === "www")).toMatchObject({ redundant: true, survivesNMinusOne: true });
    // The HA db (data nodes on single-fed h3 and h6, the monitor on h8) survives every single failure;
    // mail, one replica on h2, does not.
    expect(power.verdicts.find((v) => v.service === "db")).toMatchObject({ redundant: true, survivesNMinusOne: true, downBy: [] });
    expect(power.verdicts.find((v) => v.service === "mail")!.downBy).toEqual(["rack:r1", "host:h2"]);
    expect(power.tier.topologyTier).toBe(1);
  });
});

describe("upsRuntimeSeconds", () => {
  it("follows the simulator's battery law", () => {
    const ups = { capacityKw: 10, runtimeMinutes: 1 };
    expect(upsRuntimeSeconds(ups, 5, { upsPeukertExponent: 1, upsIdleLossFraction: 0 })).toBe(120);
    expect(upsRuntimeSeconds(ups, 5, { upsPeukertExponent: 2, upsIdleLossFraction: 0 })).toBe(240);
    expect(upsRuntimeSeconds(ups, 0, { upsPeukertExponent: 1, upsIdleLossFraction: 0 })).toBe(Infinity);
    // Defaults: 4 % of 10 kW lost on top of the 5 kW load → 60 s × 10 / 5.4.
    expect(upsRuntimeSeconds(ups, 5)).toBeCloseTo((60 * 10) / 5.4, 9);
  });
});
