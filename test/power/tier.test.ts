import { describe, expect, it } from "vitest";
import { assessTier, powerTopology, tierName } from "../../components/power";
import { loadPlan } from "../../cli/stack";
import { datacenter } from "./fixtures";

type Feed = Parameters<typeof datacenter>[0]["feeds"][number];
const full = (id: string, patch: Partial<Feed> = {}): Feed => ({
  id,
  utility: { capacityKw: 10 },
  ups: { capacityKw: 10, runtimeMinutes: 10 },
  generator: { capacityKw: 10, startDelaySeconds: 15, fuelHours: 24 },
  ...patch,
});

function tier(
  feeds: Feed[],
  psus: string[][] = [
    ["p-a", "p-b"],
    ["p-a", "p-b"],
  ],
) {
  const { spec } = datacenter({
    feeds,
    racks: [
      {
        id: "r1",
        pdus: [
          { id: "p-a", feed: "A", capacityKw: 10 },
          { id: "p-b", feed: "B", capacityKw: 10 },
        ],
      },
    ],
    hosts: psus.map((p, i) => ({ id: `h${i + 1}`, rack: "r1", psus: p, powerWatts: 2000 })),
  });
  return assessTier(powerTopology(spec));
}

describe("comparable tier", () => {
  it("2N feeds with UPS and generator and dual-corded hosts: Tier IV", () => {
    const t = tier([full("A"), full("B")]);
    expect(t.rules.filter((r) => !r.passed)).toEqual([]);
    expect(t.topologyTier).toBe(4);
  });

  it("a UPS that cannot bridge the generator start keeps it at Tier III", () => {
    // 4 kW on a 10 kW / 0.05 min UPS: 7.5 s < 15 s start delay, once the other feed has failed.
    const t = tier([full("A", { ups: { capacityKw: 10, runtimeMinutes: 0.05 } }), full("B")]);
    expect(t.topologyTier).toBe(3);
    expect(t.rules.filter((r) => !r.passed).map((r) => r.rule)).toEqual([expect.stringMatching(/^fault tolerant/)]);
    expect(t.rules.find((r) => !r.passed)!.detail).toContain("when ups:B fails in a utility outage: h1, h2 lost power");
  });

  it("a feed too small for the whole load is not 2N", () => {
    const t = tier([full("A", { generator: { capacityKw: 3, startDelaySeconds: 15, fuelHours: 24 } }), full("B")]);
    expect(t.topologyTier).toBe(1);
    expect(t.rules.find((r) => r.rule.startsWith("2N"))).toMatchObject({ passed: false, detail: "feed A carries 3 kW of 4 kW" });
  });

  it("a single-corded host stops it at Tier I: one generator is its single point of failure", () => {
    const t = tier([full("A"), full("B")], [["p-a", "p-b"], ["p-a"]]);
    expect(t.topologyTier).toBe(1);
    expect(t.rules.find((r) => r.rule.startsWith("N+1 generators"))!.detail).toBe("without generator A: h2 dark");
  });

  it("no generator: below Tier I", () => {
    const t = tier([full("A", { generator: undefined }), full("B")]);
    expect(t.topologyTier).toBe(0);
    expect(t.reasoning.at(-1)).toBe("Topology is comparable to below Tier I: the first failing rule above keeps it from Tier I.");
  });

  it("compares an availability with the published figures", () => {
    const { spec } = loadPlan("local", process.cwd());
    const topology = powerTopology(spec);
    expect(assessTier(topology, 0.9998).availabilityTier).toBe(2);
    expect(assessTier(topology, 0.99999).availabilityTier).toBe(4);
    expect(assessTier(topology, 0.99).availabilityTier).toBe(0);
    expect(assessTier(topology).topologyTier).toBe(1);
    expect(tierName(3)).toBe("Tier III");
  });
});
