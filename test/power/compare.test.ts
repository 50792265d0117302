/** Prediction against measurement (components/power/live/compare.ts): samples → intervals, tolerance and verdicts. */
import { describe, expect, it } from "vitest";
import {
  compare,
  DEFAULT_TOLERANCE,
  measuredIntervals,
  overtaken,
  parseTolerance,
  ToleranceError,
  toleranceFor,
  type ProbeSamples,
} from "../../components/power/live/compare";
import type { ServicePrediction } from "../../components/power/live/predict";

/** Samples every 0.25 s from 0 to `end`; down where `down(t)`. */
function probe(service: string, end: number, down: (t: number) => boolean): ProbeSamples {
  const samples = [];
  for (let i = 0; i * 0.25 < end; i++) samples.push({ at: i * 0.25, ok: !down(i * 0.25) });
  return { probe: `${service}/test`, service, intervalSeconds: 0.25, samples };
}
const prediction = (service: string, down: [number, number][], latestEnd?: number): ServicePrediction => {
  const intervals = down.map(([from, to]) => ({ from, to }));
  const latest = latestEnd === undefined ? intervals : intervals.map((d, i) => (i === intervals.length - 1 ? { ...d, to: latestEnd } : d));
  return {
    service,
    access: "direct",
    down: intervals,
    downSeconds: down.reduce((s, [a, b]) => s + b - a, 0),
    latest: { down: latest, seconds: latest.reduce((s, d) => s + d.to - d.from, 0) },
  };
};

describe("measured intervals", () => {
  it("a failed sample covers the time until the next sample; failed neighbours merge", () => {
    const p = probe("db", 5, (t) => t >= 1 && t < 1.75);
    expect(measuredIntervals(p)).toEqual([{ from: 1, to: 1.75 }]);
  });
  it("a failed sample holds until the next observation, however late it comes (a stalled sampler leaves no false recovery), and `until` cuts it", () => {
    const p: ProbeSamples = {
      probe: "x",
      service: "x",
      intervalSeconds: 0.25,
      samples: [
        { at: 0, ok: false },
        { at: 3, ok: true },
        { at: 4, ok: false },
      ],
    };
    expect(measuredIntervals(p)).toEqual([
      { from: 0, to: 3 },
      { from: 4, to: 4.25 },
    ]);
    expect(measuredIntervals(p, 4)).toEqual([{ from: 0, to: 3 }]);
    expect(measuredIntervals(p, 4.1)).toEqual([
      { from: 0, to: 3 },
      { from: 4, to: 4.1 },
    ]);
  });
});

describe("successes overtaken by a refusal", () => {
  // The arena WebSocket through the proxy, h1 cut at 0.3 s and back (arena listening) at 3.8 s.
  // The proxy ejected arena at 2.8 s and refuses new upgrades with 503 at once, but upgrades it
  // had sent to arena before (asked 2.5 and 2.75 s, their connects still retrying) complete
  // when arena listens: answered ok at 4.0 and 4.3 s, between refusals asked at 3.75-4.5 s.
  const samples = [
    { at: 0, ok: true, askedAt: 0 },
    { at: 0.5, ok: false },
    { at: 0.75, ok: false },
    { at: 3.75, ok: false },
    { at: 4.0, ok: true, askedAt: 2.5 },
    { at: 4.0, ok: false },
    { at: 4.25, ok: false },
    { at: 4.3, ok: true, askedAt: 2.75 },
    { at: 4.5, ok: false },
    { at: 12.0, ok: true, askedAt: 11.9 },
  ];
  const probe: ProbeSamples = { probe: "arena/websocket", service: "arena", intervalSeconds: 0.25, samples };

  it("late answers to questions asked before a refusal are no recovery: one outage, not three", () => {
    expect(overtaken(samples).map((s) => s.at)).toEqual([4.0, 4.3]);
    expect(measuredIntervals(probe)).toEqual([{ from: 0.5, to: 12 }]);
  });
  it("a slow answer with no refusal asked meanwhile still counts as up when it came (a loaded machine is no outage)", () => {
    const slow: ProbeSamples = {
      ...probe,
      samples: [
        { at: 0.5, ok: false },
        { at: 2.9, ok: true, askedAt: 0.75 },
        { at: 3.0, ok: true, askedAt: 1 },
      ],
    };
    expect(overtaken(slow.samples)).toEqual([]);
    expect(measuredIntervals(slow)).toEqual([{ from: 0.5, to: 2.9 }]);
  });
});

describe("tolerance", () => {
  it("defaults to 2 s or 10 %, whichever is larger", () => {
    expect(toleranceFor(5, DEFAULT_TOLERANCE)).toBe(2);
    expect(toleranceFor(40, DEFAULT_TOLERANCE)).toBe(4);
  });
  it("parses seconds, a percentage or both; the parts not given keep their defaults", () => {
    expect(parseTolerance(undefined)).toEqual({ seconds: 2, fraction: 0.1 });
    expect(parseTolerance("3s,15%")).toEqual({ seconds: 3, fraction: 0.15 });
    expect(parseTolerance("5")).toEqual({ seconds: 5, fraction: 0.1 });
    expect(parseTolerance("20%")).toEqual({ seconds: 2, fraction: 0.2 });
    for (const bad of ["", "fast", "-1s", "1s,2s,3s", "2 h"]) expect(() => parseTolerance(bad), bad).toThrow(ToleranceError);
  });
});

describe("verdicts", () => {
  const tol = DEFAULT_TOLERANCE;
  it("within the tolerance: ok, with the difference measured − predicted", () => {
    const [row] = compare([prediction("db", [[0, 5]])], [probe("db", 20, (t) => t < 6.5)], tol);
    expect(row).toMatchObject({ verdict: "ok", differenceSeconds: 1.5, toleranceSeconds: 2 });
    expect(row!.measured).toMatchObject({ seconds: 6.5, down: [{ from: 0, to: 6.5 }], failed: 26 });
  });
  it("more than the tolerance either way: differs", () => {
    expect(compare([prediction("db", [[0, 5]])], [probe("db", 20, (t) => t < 7.5)], tol)[0]!.verdict).toBe("differs");
    expect(compare([prediction("db", [[0, 5]])], [probe("db", 20, (t) => t < 2.75)], tol)[0]!.verdict).toBe("differs");
  });
  it("the relative tolerance takes over for long outages", () => {
    const [row] = compare([prediction("db", [[0, 60]])], [probe("db", 80, (t) => t < 65)], tol);
    expect(row).toMatchObject({ verdict: "ok", differenceSeconds: 5, toleranceSeconds: 6 });
  });
  it("a predicted range (shortest to longest boot): inside it the difference is 0; outside, it is measured from the nearer end", () => {
    // db predicted down 0–5 s with its shortest boot, 0–8 s with its longest.
    const inside = compare([prediction("db", [[0, 5]], 8)], [probe("db", 20, (t) => t < 7)], tol)[0]!;
    expect(inside).toMatchObject({ verdict: "ok", differenceSeconds: 0, predicted: { seconds: 5, latestSeconds: 8 } });
    const late = compare([prediction("db", [[0, 5]], 8)], [probe("db", 20, (t) => t < 9.5)], tol)[0]!;
    expect(late).toMatchObject({ verdict: "ok", differenceSeconds: 1.5 });
    expect(compare([prediction("db", [[0, 5]], 8)], [probe("db", 20, (t) => t < 10.5)], tol)[0]).toMatchObject({ verdict: "differs", differenceSeconds: 2.5 });
    expect(compare([prediction("db", [[0, 5]], 8)], [probe("db", 20, (t) => t < 2.75)], tol)[0]).toMatchObject({
      verdict: "differs",
      differenceSeconds: -2.25,
    });
  });
  it("predicted to stay up but down for half a second or more: went down, even within the tolerance", () => {
    expect(compare([prediction("www", [])], [probe("www", 20, (t) => t >= 3 && t < 4)], tol)[0]!.verdict).toBe("went down");
    // One failed sample is shown, but is no outage.
    const [blip] = compare([prediction("www", [])], [probe("www", 20, (t) => t === 3)], tol);
    expect(blip).toMatchObject({ verdict: "ok", measured: { seconds: 0.25, failed: 1 } });
  });
  it("a service the prediction does not know is predicted to stay up", () => {
    expect(compare([], [probe("ghost", 5, (t) => t < 2)], tol)[0]).toMatchObject({ verdict: "went down", predicted: { seconds: 0 } });
  });
});
