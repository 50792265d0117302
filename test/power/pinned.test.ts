/**
 * The Monte-Carlo results for fixed seeds, pinned: the simulation's inner loop was optimised
 * (issue 21) and must give bit-for-bit the same numbers. The expected hashes were computed
 * with the code before that change; a deliberate change of the model changes them (update
 * them in the same commit and say why).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { estimateAvailability } from "../../components/power";
import type { DatacenterSpec } from "../../components/spec/schema";
import { generatedDatacenter } from "../../bench/power/generate";

const sha = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");

describe("Monte-Carlo results for a fixed seed (pinned)", () => {
  it("generated 1,000-host datacenter, 20 years, seed 42", () => {
    const { spec, plan } = generatedDatacenter(1000);
    const result = estimateAvailability(spec, plan, { years: 20, seed: 42 });
    expect(result.services).toHaveLength(100);
    expect(sha(result)).toBe("404a32bb8ab5271542d1764812059e415cb0675c84aad9eaed85cca8e6bfe9d5");
  });

  it("generated 200-host datacenter with tight PDUs and feeds and frequent failures (trips), 30 years, seed 7", () => {
    const { spec, plan } = generatedDatacenter(200);
    // 20 hosts of 0.4 kW per rack: one PDU alone (5 kW) cannot carry its rack, and one feed
    // alone cannot carry the datacenter, so failures trip breakers and feeds.
    const tight: DatacenterSpec = {
      ...spec,
      feeds: spec.feeds.map((f) => ({ ...f, utility: { ...f.utility, capacityKw: 60 } })),
      racks: spec.racks.map((r) => ({ ...r, pdus: r.pdus.map((p) => ({ ...p, capacityKw: 5 })) })),
    };
    const rates = { rates: { pdu: { failuresPerYear: 2 }, rack: { failuresPerYear: 0.5 }, host: { failuresPerYear: 3 }, utility: { failuresPerYear: 6 } } };
    const result = estimateAvailability(tight, plan, { years: 30, seed: 7, rates });
    expect(result.sitePowerAvailability.mean).toBeLessThan(1);
    expect(sha(result)).toBe("0c04a5a99e59fb46a9fc3f118465d5db0e30dcd7c1e928e8146d5c4fce23d82e");
  });
});
