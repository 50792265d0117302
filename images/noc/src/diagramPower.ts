/**
 * How the drawing (./diagram.ts) shows power: feeds dark when unpowered and pale when unknown,
 * PDUs, racks and hosts tinted by state, wires from a dead feed or PDU dashed, and each
 * service's bar split into time up, time dark for want of power (grey) and time down for any
 * other reason. Without a power state nothing here changes the drawing.
 */
import type { PowerEntry, PowerState } from "./powerState";

export interface DiagramPower {
  readonly feeds: Readonly<Record<string, PowerEntry>>;
  readonly pdus: Readonly<Record<string, PowerEntry>>;
  readonly racks: Readonly<Record<string, PowerEntry>>;
  readonly hosts: Readonly<Record<string, PowerEntry>>;
}

export const POWER_COLOURS: Readonly<Record<PowerState, string>> = {
  powered: "#2e9d4f",
  unpowered: "#3d4350",
  partial: "#e0a526",
  unknown: "#8a94a6",
};

/** Presentation attributes of the power-tinted boxes (see diagram.ts, withAttributes). */
export const POWER_STYLE_ATTRS: Readonly<Record<string, string>> = {
  "hostbox-powered": 'fill="#fff" stroke="#2e9d4f"',
  "hostbox-unpowered": 'fill="#eceef2" stroke="#3d4350" stroke-dasharray="4 3"',
  "hostbox-unknown": 'fill="#fff" stroke="#8a94a6" stroke-dasharray="2 2"',
  "rackbox-powered": 'fill="#f1f8f3" stroke="#2e9d4f"',
  "rackbox-unpowered": 'fill="#d0d5dd" stroke="#3d4350"',
  "rackbox-partial": 'fill="#fbf3df" stroke="#e0a526"',
  "rackbox-unknown": 'fill="#f4f6fa" stroke="#8a94a6" stroke-dasharray="2 2"',
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const label = (state: PowerState) => (state === "unpowered" ? "no power" : state === "unknown" ? "power unknown" : state);

/** A host's attribute, box class, tooltip suffix and "no power" caption. */
export function hostPower(power: DiagramPower | undefined, host: string, x: number, y: number) {
  const p = power?.hosts[host] ?? (power ? { state: "unknown" as const, detail: "not reported" } : undefined);
  if (!p) return { attr: "", boxClass: "hostbox", title: "", label: "" };
  return {
    attr: ` data-power="${p.state}"`,
    boxClass: `hostbox-${p.state}`,
    title: `; power: ${p.state} — ${p.detail}`,
    label:
      p.state === "powered" ? "" : `<text x="${x}" y="${y}" text-anchor="middle" class="hostname" fill="${POWER_COLOURS[p.state]}">${label(p.state)}</text>`,
  };
}

export function pduPower(p: PowerEntry | undefined) {
  if (!p) return { attr: "", fill: "#fff", text: "small", title: "" };
  const fill = p.state === "powered" ? "#e3f3e8" : p.state === "unpowered" ? "#3d4350" : "#eef0f4";
  return { attr: ` data-power="${p.state}"`, fill, text: p.state === "unpowered" ? "light" : "small", title: `: ${p.state} — ${p.detail}` };
}

export function rackPower(p: PowerEntry | undefined) {
  if (!p) return { attr: "", boxClass: "rackbox", title: "" };
  return { attr: ` data-power="${p.state}"`, boxClass: `rackbox-${p.state}`, title: `: ${p.state} — ${p.detail}` };
}

/** Wires carrying no power (or none known) are dashed. */
export const wireDash = (p: PowerEntry | undefined) => (p && p.state !== "powered" ? ` stroke-dasharray="${p.state === "unpowered" ? "6 4" : "2 3"}"` : "");

/**
 * A service's availability bar. With the downtime split, the bar shows up time, then the
 * share dark for want of power in grey, and its colour (and the caption) judge only the
 * failures: a service down only because its hosts lost power is not red.
 */
export function serviceBar(
  x: number,
  y: number,
  availability: number,
  downtime: { readonly power: number; readonly failure: number } | undefined,
  colours: { readonly up: string; readonly degraded: string; readonly down: string; readonly "no-power": string },
): string {
  const clamp = (v: number) => Math.max(0, Math.min(1, v));
  const a = clamp(availability);
  const dark = clamp(downtime?.power ?? 0);
  const judged = downtime ? 1 - clamp(downtime.failure) : a;
  const fill = judged >= 0.99 ? colours.up : judged >= 0.9 ? colours.degraded : colours.down;
  const pct = (v: number) => `${(v * 100).toFixed(v === 1 ? 0 : 2)}%`;
  return (
    `<rect x="${x}" y="${y - 11}" width="200" height="12" fill="#e5e8ee"/><rect x="${x}" y="${y - 11}" width="${(200 * a).toFixed(1)}" height="12" fill="${fill}"/>` +
    (dark > 0
      ? `<rect class="no-power-share" x="${(x + 200 * a).toFixed(1)}" y="${y - 11}" width="${(200 * dark).toFixed(1)}" height="12" fill="${colours["no-power"]}" stroke="#3d4350" stroke-width="0.5"/>`
      : "") +
    `<text x="${x + 210}" y="${y}" class="small">${pct(a)}${dark > 0 ? ` · no power ${esc(pct(dark))}` : ""}</text>`
  );
}

/** "power: ■ powered ■ no power ■ partial ■ unknown", right-aligned at `right`. */
export function powerLegend(right: number, y: number): string {
  const states = Object.keys(POWER_COLOURS) as PowerState[];
  const x0 = right - states.length * 92;
  return (
    `<text x="${x0 - 8}" y="${y + 10}" text-anchor="end" class="small">power:</text>` +
    states
      .map(
        (s, i) =>
          `<rect x="${x0 + i * 92}" y="${y}" width="12" height="12" fill="${POWER_COLOURS[s]}"/><text x="${x0 + i * 92 + 16}" y="${y + 10}" class="small">${label(s)}</text>`,
      )
      .join("")
  );
}
