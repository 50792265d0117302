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
    const run = await runUnderMocks(async () => (await import("../../components/program.js")).runProgram(), { stack: "local", config: stackFile.config, realTls: false });
    const power: PowerSummary = await valueOf(run.exports.datacenter.power);
    expect(power.nMinusOne).toHaveLength(21);
    expect(power.verdicts.find((v) => v.service === "www")).toMatchObject({ redundant: true, survivesNMinusOne: true });
    expect(power.verdicts.find((v) => v.service === "db")!.downBy).toContain("feed:A");
    expect(power.tier.topologyTier).toBe(1);
  });
});

describe("upsRuntimeSeconds", () => {
  it("follows the simulator's battery law", () => {
    expect(upsRuntimeSeconds({ capacityKw: 10, runtimeMinutes: 1 }, 5)).toBe(120);
    expect(upsRuntimeSeconds({ capacityKw: 10, runtimeMinutes: 1 }, 5, 2)).toBe(240);
    expect(upsRuntimeSeconds({ capacityKw: 10, runtimeMinutes: 1 }, 0)).toBe(Infinity);
  });
});
