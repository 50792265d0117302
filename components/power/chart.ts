/**
 * Renders a scenario's timelines as an SVG Gantt-style chart (one lane per feed, host and
 * service), or as a small self-contained HTML page around it with the event log. Output is
 * deterministic (no timestamps, fixed number formatting) so it can be snapshot-tested.
 */
import type { FeedSource, ScenarioResult, Segment } from "./types";

const SOURCE_COLOUR: Record<FeedSource, string> = { utility: "#2e7d32", generator: "#f9a825", ups: "#1565c0", none: "#c62828" };
const UP = "#2e7d32";
const DOWN = "#c62828";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const num = (n: number) => String(Math.round(n * 10) / 10);

/** `3725` → `01:02:05`; days shown as `2d 01:02:05`. */
export function clock(seconds: number): string {
  const s = Math.round(seconds);
  const d = Math.floor(s / 86400);
  const hh = String(Math.floor((s % 86400) / 3600)).padStart(2, "0");
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return `${d > 0 ? `${d}d ` : ""}${hh}:${mm}:${ss}`;
}

interface Lane {
  readonly label: string;
  readonly bars: readonly { from: number; to: number; colour: string; title: string }[];
}

function lanes(result: ScenarioResult): { group: string; lanes: Lane[] }[] {
  const bars = <S>(segments: readonly Segment<S>[], colour: (s: S) => string, title: (s: S) => string) =>
    segments.map((seg) => ({ from: seg.from, to: seg.to, colour: colour(seg.state), title: `${clock(seg.from)}–${clock(seg.to)} ${title(seg.state)}` }));
  return [
    {
      group: "Feeds",
      lanes: result.feeds.map((f) => ({
        label: `feed ${f.feed}`,
        bars: bars(
          f.segments,
          (s) => SOURCE_COLOUR[s.source],
          (s) => `${s.source}, ${num(s.loadKw)} kW`,
        ),
      })),
    },
    {
      group: "Hosts",
      lanes: result.hosts.map((h) => ({
        label: h.host,
        bars: bars(
          h.segments,
          (s) => (s.powered ? UP : DOWN),
          (s) => (s.powered ? "powered" : "dark"),
        ),
      })),
    },
    {
      group: "Services",
      lanes: result.services.map((s) => ({
        label: s.service,
        bars: bars(
          s.segments,
          (x) => (x.up ? UP : DOWN),
          (x) => `${x.up ? "up" : "down"}, ${x.running} running`,
        ),
      })),
    },
  ];
}

export function renderSvg(result: ScenarioResult): string {
  const width = 960;
  const left = 110;
  const plot = width - left - 20;
  const row = 18;
  const x = (t: number) => left + (Math.min(t, result.horizonSeconds) / result.horizonSeconds) * plot;
  const out: string[] = [];
  let y = 30;
  for (const { group, lanes: ls } of lanes(result)) {
    out.push(`<text x="4" y="${y + 12}" font-weight="bold">${esc(group)}</text>`);
    y += row;
    for (const lane of ls) {
      out.push(`<text x="10" y="${y + 12}">${esc(lane.label)}</text>`);
      for (const b of lane.bars) {
        out.push(
          `<rect x="${num(x(b.from))}" y="${y + 2}" width="${num(Math.max(0.5, x(b.to) - x(b.from)))}" height="${row - 4}" fill="${b.colour}"><title>${esc(b.title)}</title></rect>`,
        );
      }
      y += row;
    }
    y += 6;
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const t = f * result.horizonSeconds;
    return `<line x1="${num(x(t))}" y1="24" x2="${num(x(t))}" y2="${y}" stroke="#999" stroke-dasharray="2,3"/><text x="${num(x(t))}" y="${y + 14}" text-anchor="middle">${clock(t)}</text>`;
  });
  const height = y + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<text x="4" y="14" font-size="13" font-weight="bold">${esc(result.name)}</text>`,
    `<text x="${width - 4}" y="14" text-anchor="end">green: utility / up · amber: generator · blue: UPS battery · red: dark / down</text>`,
    ...ticks,
    ...out,
    "</svg>",
  ].join("\n");
}

export function renderHtml(result: ScenarioResult): string {
  const rows = result.events.map((e) => `<tr><td>${clock(e.at)}</td><td>${esc(e.text)}</td></tr>`).join("\n");
  const downtime = result.services.map((s) => `<tr><td>${esc(s.service)}</td><td>${clock(s.downtimeSeconds)}</td><td>${s.outages}</td></tr>`).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(result.name)}</title>
<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}</style></head>
<body><h1>Scenario: ${esc(result.name)}</h1>
${renderSvg(result)}
<h2>Downtime per service</h2><table><tr><th>service</th><th>downtime</th><th>outages</th></tr>
${downtime}
</table>
<h2>Events</h2><table><tr><th>time</th><th>event</th></tr>
${rows}
</table></body></html>
`;
}
