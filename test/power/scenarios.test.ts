/**
 * Hand-computed scenarios: every expected time below is worked out in the comment above it
 * from the model stated in components/power/README.md.
 */
import { describe, expect, it } from "vitest";
import { simulateScenario } from "../../components/power";
import type { ScenarioResult } from "../../components/power";
import { datacenter, oneFeed } from "./fixtures";

const log = (r: ScenarioResult) => r.events.map((e) => `${Math.round(e.at * 1000) / 1000} ${e.text}`);
const dark = (r: ScenarioResult, host: string) =>
  r.hosts
    .find((h) => h.host === host)!
    .segments.filter((s) => !s.state.powered)
    .map((s) => [round(s.from), round(s.to)]);
const round = (n: number) => Math.round(n * 1000) / 1000;
const downtime = (r: ScenarioResult, host: string) => round(r.hosts.find((h) => h.host === host)!.downtimeSeconds);

describe("one feed, one 5 kW host", () => {
  const ups = { capacityKw: 10, runtimeMinutes: 10 };
  const generator = { capacityKw: 10, startDelaySeconds: 30, fuelHours: 24 };

  it("UPS runtime longer than the generator start: no interruption", () => {
    // 5 kW on a 10 kW / 10 min UPS lasts 20 min; the generator carries the feed after 30 s.
    const { spec, plan } = oneFeed({ ups, generator });
    const r = simulateScenario(spec, plan, { generatorStart: "ok", events: [{ at: 0, fail: "utility:A", for: "2h" }] });
    expect(log(r)).toEqual([
      "0 utility A fails",
      "0 generator A starting (ready in 30 s)",
      "0 feed A on ups",
      "30 generator A running",
      "30 feed A on generator",
      "7200 utility A is repaired",
      "7200 generator A stops: utility A is back",
      "7200 feed A on utility",
    ]);
    expect(r.horizonSeconds).toBe(7200 + 3600);
    expect(downtime(r, "h1")).toBe(0);
    expect(r.services[0]!.downtimeSeconds).toBe(0);
    // 30 s at half load drains 30 / 1200 of the battery.
    const feed = r.feeds[0]!.segments;
    expect(feed.map((s) => [s.from, s.to, s.state.source, s.state.loadKw])).toEqual([
      [0, 30, "ups", 5],
      [30, 7200, "generator", 5],
      [7200, 10800, "utility", 5],
    ]);
    expect(feed[1]!.state.upsCharge).toBeCloseTo(1 - 30 / 1200, 9);
  });

  it("UPS runtime shorter than the generator start: dark from battery empty until the generator runs", () => {
    // 10 kW / 1 min UPS at 5 kW: 120 s. Generator ready at 300 s. Dark 120–300 s.
    const { spec, plan } = oneFeed({ ups: { capacityKw: 10, runtimeMinutes: 1 }, generator: { ...generator, startDelaySeconds: 300 } });
    const r = simulateScenario(spec, plan, { generatorStart: "ok", duration: "1h", events: [{ at: 0, fail: "utility:A", for: "30m" }] });
    expect(dark(r, "h1")).toEqual([[120, 300]]);
    expect(downtime(r, "h1")).toBe(180);
    expect(r.services[0]).toMatchObject({ service: "svc", outages: 1 });
    expect(round(r.services[0]!.downtimeSeconds)).toBe(180);
    expect(log(r)).toContain("120 UPS A battery empty");
    expect(log(r)).toContain("120 service svc DOWN (0/1 replicas, needs 1)");
    expect(log(r)).toContain("300 service svc UP (1/1 replicas, needs 1)");
  });

  it("a Peukert exponent above 1 shortens the runtime at high load", () => {
    // runtime = 60 s × (10/5)^2 = 240 s with k = 2; dark 240–300 s.
    const { spec, plan } = datacenter({
      feeds: [{ id: "A", utility: { capacityKw: 10 }, ups: { capacityKw: 10, runtimeMinutes: 1 }, generator: { ...generator, startDelaySeconds: 300 } }],
      racks: [{ id: "r1", pdus: [{ id: "p-a", feed: "A", capacityKw: 10 }] }],
      hosts: [{ id: "h1", rack: "r1", psus: ["p-a"], powerWatts: 5000 }],
      reliability: { upsPeukertExponent: 2 },
    });
    const r = simulateScenario(spec, plan, { generatorStart: "ok", events: [{ at: 0, fail: "utility:A", for: "30m" }] });
    expect(dark(r, "h1")).toEqual([[240, 300]]);
  });

  it("the UPS's own losses drain the battery on top of the load", () => {
    // Losses 10 % of 10 kW = 1 kW on top of 5 kW: 6 kW on a 10 kW / 1 min UPS lasts 100 s.
    const { spec, plan } = datacenter({
      feeds: [{ id: "A", utility: { capacityKw: 10 }, ups: { capacityKw: 10, runtimeMinutes: 1 }, generator: { ...generator, startDelaySeconds: 300 } }],
      racks: [{ id: "r1", pdus: [{ id: "p-a", feed: "A", capacityKw: 10 }] }],
      hosts: [{ id: "h1", rack: "r1", psus: ["p-a"], powerWatts: 5000 }],
      reliability: { upsIdleLossFraction: 0.1 },
    });
    const r = simulateScenario(spec, plan, { generatorStart: "ok", events: [{ at: 0, fail: "utility:A", for: "30m" }] });
    expect(dark(r, "h1")).toEqual([[100, 300]]);
  });

  it("generator fails to start: dark from battery empty until the utility returns", () => {
    // Battery empty at 120 s, utility back at 3600 s: 3480 s dark.
    const { spec, plan } = oneFeed({ ups: { capacityKw: 10, runtimeMinutes: 1 }, generator });
    const r = simulateScenario(spec, plan, { generatorStart: "fail", duration: "2h", events: [{ at: 0, fail: "utility:A", for: "1h" }] });
    expect(dark(r, "h1")).toEqual([[120, 3600]]);
    expect(downtime(r, "h1")).toBe(3480);
    expect(log(r)).toContain("0 generator A fails to start");
  });

  it("a sampled start with probability 1 always fails, with probability 0 never", () => {
    for (const [p, expected] of [
      [1, 3480],
      [0, 0],
    ] as const) {
      const { spec, plan } = oneFeed({ ups: { capacityKw: 10, runtimeMinutes: 1 }, generator: { ...generator, startFailureProbability: p } });
      const r = simulateScenario(spec, plan, { generatorStart: "sample", seed: 42, duration: "2h", events: [{ at: 0, fail: "utility:A", for: "1h" }] });
      expect(downtime(r, "h1")).toBe(expected);
    }
  });

  it("fuel runs out: the generator stops and the feed goes dark", () => {
    // No UPS: dark 0–30 s. Burn at half load = (0.3 + 0.7·0.5) / 1 h = 0.65 tank/h, so the
    // tank lasts 3600 / 0.65 = 5538.462 s: empty at 5568.462 s, dark until 4 h = 14400 s.
    const { spec, plan } = oneFeed({ generator: { capacityKw: 10, startDelaySeconds: 30, fuelHours: 1 } });
    const r = simulateScenario(spec, plan, { generatorStart: "ok", duration: "5h", events: [{ at: 0, fail: "utility:A", for: "4h" }] });
    expect(dark(r, "h1")).toEqual([
      [0, 30],
      [round(30 + 3600 / 0.65), 14400],
    ]);
    expect(log(r)).toContain(`${round(30 + 3600 / 0.65)} generator A out of fuel`);
  });

  it("a UPS smaller than the load trips until the generator takes over", () => {
    const { spec, plan } = oneFeed({ ups: { capacityKw: 4, runtimeMinutes: 10 }, generator });
    const r = simulateScenario(spec, plan, { generatorStart: "ok", events: [{ at: 0, fail: "utility:A", for: "1h" }] });
    expect(dark(r, "h1")).toEqual([[0, 30]]);
    expect(log(r)).toContain("0 feed A trips on overload");
  });

  it("a generator repaired during the outage starts again", () => {
    // Generator broken at 0, repaired at 10 min, ready 30 s later; no UPS: dark 0–630 s.
    const { spec, plan } = oneFeed({ generator });
    const r = simulateScenario(spec, plan, {
      generatorStart: "ok",
      events: [
        { at: 0, fail: "generator:A", for: "10m" },
        { at: 0, fail: "utility:A", for: "1h" },
      ],
    });
    expect(dark(r, "h1")).toEqual([[0, 630]]);
  });

  it("the battery recharges after the outage", () => {
    // 5 kW on 10 kW / 10 min: 20 min runtime. Outage 1 (0–10 min, generator broken) uses half
    // the battery; 1 h of recharge at 1/8 per hour brings it to 0.625; outage 2 at 70 min
    // then lasts 0.625 × 20 min = 750 s before the feed goes dark.
    const { spec, plan } = oneFeed({ ups, generator });
    const r = simulateScenario(spec, plan, {
      generatorStart: "ok",
      events: [
        { at: 0, fail: "generator:A" },
        { at: 0, fail: "utility:A", for: "10m" },
        { at: "70m", fail: "utility:A", for: "1h" },
      ],
    });
    expect(dark(r, "h1")).toEqual([[4200 + 750, 4200 + 3600]]);
  });
});

describe("paths: dual-PSU, single-PSU, and a rack on one feed", () => {
  const feeds = [
    { id: "A", utility: { capacityKw: 10 } },
    { id: "B", utility: { capacityKw: 10 } },
  ];

  it("a dual-PSU host survives the loss of either feed, a single-PSU host only of the other", () => {
    const { spec, plan } = datacenter({
      feeds,
      racks: [
        {
          id: "r1",
          pdus: [
            { id: "p-a", feed: "A", capacityKw: 5 },
            { id: "p-b", feed: "B", capacityKw: 5 },
          ],
        },
      ],
      hosts: [
        { id: "h1", rack: "r1", psus: ["p-a", "p-b"], powerWatts: 1000 },
        { id: "h2", rack: "r1", psus: ["p-a"], powerWatts: 1000 },
      ],
    });
    const r = simulateScenario(spec, plan, {
      events: [
        { at: 0, fail: "utility:A", for: "1h" },
        { at: "2h", fail: "utility:B", for: "1h" },
      ],
    });
    expect(dark(r, "h1")).toEqual([]);
    expect(dark(r, "h2")).toEqual([[0, 3600]]);
    // h1's full 1 kW moves to B while A is out.
    expect(r.feeds[1]!.segments[0]!.state.loadKw).toBe(1);
  });

  it("a rack with both PDUs on one feed loses every host with that feed, dual PSUs or not", () => {
    const { spec, plan } = datacenter({
      feeds,
      racks: [
        {
          id: "r1",
          pdus: [
            { id: "p1", feed: "A", capacityKw: 5 },
            { id: "p2", feed: "A", capacityKw: 5 },
          ],
        },
        { id: "r2", pdus: [{ id: "p3", feed: "B", capacityKw: 5 }] },
      ],
      hosts: [
        { id: "h1", rack: "r1", psus: ["p1", "p2"], powerWatts: 1000 },
        { id: "h2", rack: "r2", psus: ["p3"], powerWatts: 1000 },
      ],
    });
    const r = simulateScenario(spec, plan, { events: [{ at: 0, fail: "utility:A", for: "1h" }] });
    expect(dark(r, "h1")).toEqual([[0, 3600]]);
    expect(dark(r, "h2")).toEqual([]);
  });
});
