/**
 * `serverpark chaos --chart out.html`: one self-contained HTML page (inline SVG and CSS, no
 * script, no external assets) that draws, per probed service, the predicted and the measured
 * down intervals on one time axis (real seconds after the start of the run), with the
 * moments hosts lost and regained power. Pure: rows in, text out.
 */
import type { FidelityRow } from "./compare";
import type { Interval } from "./predict";

export interface ChartInput {
  readonly title: string;
  readonly rows: readonly FidelityRow[];
  /** Host power changes as applied (real seconds after the start). */
  readonly changes: readonly { readonly host: string; readonly kind: string; readonly realSeconds: number }[];
  /** Where the time axis ends: the end of the measurement. */
  readonly untilSeconds: number;
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const LABEL = 150;
const WIDTH = 900;
const ROW = 34;
const BAR = 10;
const TOP = 40;

/** Ticks every 1, 2, 5, 10, 20, 30 or 60 s: at most about 15 on the axis. */
function tickStep(until: number): number {
  return [1, 2, 5, 10, 20, 30, 60, 120, 300].find((s) => until / s <= 15) ?? 600;
}

export function renderChaosChart(input: ChartInput): string {
  const until = Math.max(1, input.untilSeconds, ...input.rows.flatMap((r) => [...r.predicted.latestDown, ...r.measured.down].map((d) => d.to)));
  const x = (t: number) => LABEL + (Math.max(0, t) / until) * (WIDTH - LABEL - 20);
  const height = TOP + input.rows.length * ROW + 40;
  const bars = (cls: string, probe: string, y: number, intervals: readonly Interval[]) =>
    `<g class="${cls}" data-probe="${escape(probe)}">${intervals
      .map(
        (d) =>
          `<rect x="${x(d.from).toFixed(1)}" y="${y}" width="${Math.max(1, x(d.to) - x(d.from)).toFixed(1)}" height="${BAR}"><title>${escape(probe)} ${cls}: ${d.from.toFixed(1)}–${d.to.toFixed(1)} s</title></rect>`,
      )
      .join("")}</g>`;
  const rows = input.rows.map((r, i) => {
    const y = TOP + i * ROW;
    // The predicted range: down until the earliest return (solid), possibly until the latest (light).
    const later = r.predicted.latestDown.map((d, n) => ({ from: r.predicted.down[n]?.to ?? d.from, to: d.to })).filter((d) => d.to > d.from);
    return [
      `<text x="4" y="${y + BAR + 3}" class="label">${escape(r.probe)}</text>`,
      `<text x="4" y="${y + 2 * BAR + 6}" class="verdict ${r.verdict === "ok" ? "ok" : "bad"}">${escape(r.verdict)} (${r.differenceSeconds >= 0 ? "+" : ""}${r.differenceSeconds.toFixed(1)} s)</text>`,
      bars("predicted", r.probe, y, r.predicted.down),
      bars("predicted-latest", r.probe, y, later),
      bars("measured", r.probe, y + BAR + 2, r.measured.down),
    ].join("\n");
  });
  const step = tickStep(until);
  const ticks: string[] = [];
  for (let t = 0; t <= until + 1e-9; t += step)
    ticks.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="${TOP - 6}" y2="${height - 30}" class="grid"/><text x="${x(t)}" y="${height - 16}" class="tick">${t} s</text>`,
    );
  const marks = input.changes
    .filter((c) => c.kind !== "supply")
    .map(
      (c) =>
        `<line x1="${x(c.realSeconds)}" x2="${x(c.realSeconds)}" y1="${TOP - 12}" y2="${height - 30}" class="${c.kind}"><title>${escape(c.host)} ${c.kind} at ${c.realSeconds.toFixed(1)} s</title></line>`,
    );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(input.title)}</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px;color:#222}
.label{font-weight:600}.verdict{font-size:11px}.ok{fill:#2a7a2a}.bad{fill:#b00020}
.predicted rect{fill:#e08a00}.predicted-latest rect{fill:#e08a00;opacity:.35}.measured rect{fill:#1565c0}
.grid{stroke:#ddd}.tick{font-size:11px;text-anchor:middle;fill:#555}
.power-off{stroke:#b00020;stroke-dasharray:4 3}.power-on{stroke:#2a7a2a;stroke-dasharray:4 3}
.key span{display:inline-block;width:14px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
</style></head><body>
<h1 style="font-size:16px">${escape(input.title)}</h1>
<p class="key">Real seconds after the start of the run.<span style="background:#e08a00"></span>predicted down (shortest boot)<span style="background:#e08a00;opacity:.35"></span>up to the longest boot<span style="background:#1565c0"></span>measured down<span style="border-left:2px dashed #b00020;width:0"></span>host lost power<span style="border-left:2px dashed #2a7a2a;width:0"></span>host powered</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">
${ticks.join("\n")}
${marks.join("\n")}
${rows.join("\n")}
</svg>
</body></html>
`;
}
