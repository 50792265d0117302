/**
 * Monte-Carlo against closed forms: a single repairable component is available
 * MTBF / (MTBF + MTTR) of the time; the estimate's 95 % interval must contain it.
 */
import { describe, expect, it } from "vitest";
import { estimateAvailability } from "../../components/power";
import { datacenter, oneFeed } from "./fixtures";

const none = { failuresPerYear: 0 };
const quiet = { feed: none, utility: none, ups: none, generator: none, pdu: none, rack: none, host: none };
const HOURS_PER_YEAR = 365.25 * 24;

describe("availability estimate", () => {
  it("one host that fails twice a year for 100 h on average: A = 1 / (1 + λ·MTTR)", () => {
    const { spec, plan } = oneFeed();
    const result = estimateAvailability(spec, plan, {
      years: 400,
      seed: 5,
      rates: { rates: { ...quiet, host: { failuresPerYear: 2, meanRepairHours: 100 } } },
    });
    const expected = 1 / (1 + (2 / HOURS_PER_YEAR) * 100);
    const a = result.services[0]!.availability;
    expect(a.low).toBeLessThanOrEqual(expected);
    expect(a.high).toBeGreaterThanOrEqual(expected);
    expect(a.high - a.low).toBeLessThan(0.01);
    expect(result.services[0]!.outagesPerYear).toBeGreaterThan(1.8);
    expect(result.services[0]!.outagesPerYear).toBeLessThan(2.2);
    // The host's own failures are not a loss of site power.
    expect(result.sitePowerAvailability.mean).toBe(1);
  });

  it("utility outages with no UPS or generator show up fully; with a perfect generator and UPS not at all", () => {
    const rates = { rates: { ...quiet, utility: { failuresPerYear: 10, meanRepairHours: 20 } } };
    const bare = oneFeed();
    const a = estimateAvailability(bare.spec, bare.plan, { years: 300, seed: 2, rates }).sitePowerAvailability;
    const expected = 1 / (1 + (10 / HOURS_PER_YEAR) * 20);
    expect(a.low).toBeLessThanOrEqual(expected);
    expect(a.high).toBeGreaterThanOrEqual(expected);

    const backed = oneFeed({
      ups: { capacityKw: 10, runtimeMinutes: 10 },
      generator: { capacityKw: 10, startDelaySeconds: 30, fuelHours: 1000, startFailureProbability: 0 },
    });
    const b = estimateAvailability(backed.spec, backed.plan, { years: 50, seed: 2, rates });
    expect(b.services[0]!.availability.mean).toBe(1);
    expect(b.sitePowerAvailability.mean).toBe(1);
  });

  it("takes its rates from the stack's reliability block, with call-time overrides on top", () => {
    const host = { failuresPerYear: 2, meanRepairHours: 100 };
    const fromStack = datacenter({
      feeds: [{ id: "A", utility: { capacityKw: 10 } }],
      racks: [{ id: "r1", pdus: [{ id: "p-a", feed: "A", capacityKw: 10 }] }],
      hosts: [{ id: "h1", rack: "r1", psus: ["p-a"], powerWatts: 1000 }],
      reliability: { rates: { ...quiet, host } },
    });
    const viaStack = estimateAvailability(fromStack.spec, fromStack.plan, { years: 30, seed: 4 });
    expect(viaStack.reliability.rates.host).toEqual(host);
    expect(viaStack.reliability.rates.utility).toEqual({ failuresPerYear: 0, meanRepairHours: 1.32 });
    const plain = oneFeed();
    const viaOptions = estimateAvailability(plain.spec, plain.plan, { years: 30, seed: 4, rates: { rates: { ...quiet, host } } });
    expect(viaStack.services[0]!.availability).toEqual(viaOptions.services[0]!.availability);
    const overridden = estimateAvailability(fromStack.spec, fromStack.plan, { years: 30, seed: 4, rates: { rates: { host: { failuresPerYear: 0 } } } });
    expect(overridden.services[0]!.availability.mean).toBe(1);
  });

  it("is deterministic for a seed and differs between seeds", () => {
    const { spec, plan } = datacenter({
      feeds: [
        {
          id: "A",
          utility: { capacityKw: 10 },
          ups: { capacityKw: 10, runtimeMinutes: 5 },
          generator: { capacityKw: 10, startDelaySeconds: 15, fuelHours: 8, startFailureProbability: 0.2 },
        },
      ],
      racks: [{ id: "r1", pdus: [{ id: "p-a", feed: "A", capacityKw: 10 }] }],
      hosts: [{ id: "h1", rack: "r1", psus: ["p-a"], powerWatts: 1000 }],
    });
    const run = (seed: number) => JSON.stringify(estimateAvailability(spec, plan, { years: 100, seed }));
    expect(run(1)).toBe(run(1));
    expect(run(1)).not.toBe(run(2));
  });

  it("reports progress once per year", () => {
    const { spec, plan } = oneFeed();
    const seen: number[] = [];
    estimateAvailability(spec, plan, { years: 5, seed: 1, onProgress: (done, total) => seen.push(done / total) });
    expect(seen).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
  });
});
