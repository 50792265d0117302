/**
 * `serverpark chaos --chart`: the page draws both series (predicted, measured) for every
 * probed service on one axis, with nothing loaded from elsewhere.
 */
import { describe, expect, it } from "vitest";
import { renderChaosChart } from "../../components/power/live/chartHtml";
import { compare, DEFAULT_TOLERANCE } from "../../components/power/live/compare";
import type { ServicePrediction } from "../../components/power/live/predict";

const prediction = (service: string, down: [number, number][], latestEnd?: number): ServicePrediction => {
  const intervals = down.map(([from, to]) => ({ from, to }));
  const latest = latestEnd === undefined ? intervals : intervals.map((d) => ({ ...d, to: latestEnd }));
  const sum = (l: { from: number; to: number }[]) => l.reduce((s, d) => s + d.to - d.from, 0);
  return { service, access: "direct", down: intervals, downSeconds: sum(intervals), latest: { down: latest, seconds: sum(latest) } };
};
const samples = (down: (t: number) => boolean) => Array.from({ length: 120 }, (_, i) => ({ at: i * 0.25, ok: !down(i * 0.25) }));

describe("the chaos chart", () => {
  const rows = compare(
    [prediction("db", [[12, 16]], 19), prediction("arena", [[0.3, 11.5]]), prediction("www", [])],
    [
      { probe: "db/query", service: "db", intervalSeconds: 0.25, samples: samples((t) => t >= 12.25 && t < 17) },
      { probe: "arena/websocket", service: "arena", intervalSeconds: 0.25, samples: samples((t) => t >= 0.5 && t < 12.5) },
      { probe: "www/https", service: "www", intervalSeconds: 0.25, samples: samples(() => false) },
    ],
    DEFAULT_TOLERANCE,
  );
  const html = renderChaosChart({
    title: "sptest: utility:A@0s/14400s <b>",
    rows,
    changes: [
      { host: "h3", kind: "power-off", realSeconds: 12 },
      { host: "h1", kind: "supply", realSeconds: 12 },
      { host: "h3", kind: "power-on", realSeconds: 24 },
    ],
    untilSeconds: 30,
  });

  it("has, for every service, a predicted and a measured series with one bar per interval", () => {
    for (const probe of ["db/query", "arena/websocket", "www/https"]) {
      expect(html, probe).toContain(`<g class="predicted" data-probe="${probe}">`);
      expect(html, probe).toContain(`<g class="measured" data-probe="${probe}">`);
    }
    const series = (cls: string, probe: string) => new RegExp(`<g class="${cls}" data-probe="${probe.replace("/", "\\/")}">(.*?)</g>`).exec(html)![1]!;
    expect(series("predicted", "db/query").match(/<rect /g)).toHaveLength(1);
    expect(series("predicted-latest", "db/query")).toContain("db/query predicted-latest: 16.0–19.0 s");
    expect(series("measured", "db/query")).toContain("db/query measured: 12.3–17.0 s");
    expect(series("measured", "arena/websocket")).toContain("arena/websocket measured: 0.5–12.5 s");
    // Up all along: both series empty.
    expect(series("predicted", "www/https")).toBe("");
    expect(series("measured", "www/https")).toBe("");
  });

  it("marks the power changes on the same axis, and is self-contained and escaped", () => {
    expect(html.match(/class="power-off"/g)).toHaveLength(1);
    expect(html.match(/class="power-on"/g)).toHaveLength(1);
    expect(html).not.toMatch(/<script|<link|src=|href=|url\(/);
    expect(html).toContain("&lt;b&gt;");
    expect(html).not.toContain("<b>");
  });
});
