/**
 * The datacenter drawing as SVG: feeds → PDUs → racks → hosts → service replicas, with a
 * per-service availability table underneath. A pure function of a {@link DiagramModel} and
 * an optional live state, so `serverpark diagram` (static, no state) and the NOC page
 * (live colours) produce the same picture, and tests can compare output byte for byte.
 *
 * With the host agents' power state, feeds, PDUs, racks and hosts are coloured by it
 * (./diagramPower.ts) and replicas on a dark host are grey "no power" chips, not red ones.
 *
 * Hand-written on purpose: the layout is a fixed grid (racks side by side, hosts stacked),
 * which a few coordinates express more plainly than a graph-layout dependency would.
 */
import type { DiagramHost, DiagramModel } from "../../../contracts/views/noc";
import { hostPower, POWER_STYLE_ATTRS, powerLegend, pduPower, rackPower, serviceBar, wireDash, type DiagramPower } from "./diagramPower";

export type ReplicaState = "up" | "degraded" | "down" | "unknown" | "no-power";

export interface DiagramState {
  /** replica id → state; replicas not listed are drawn "unknown". */
  readonly replicas?: Readonly<Record<string, ReplicaState>>;
  /** replica id → one line shown on hover (e.g. "smtp 3 ms, submission timed out"). */
  readonly details?: Readonly<Record<string, string>>;
  /** service id → availability over the window, 0..1; services not listed show "n/a". */
  readonly availability?: Readonly<Record<string, number>>;
  /** Caption of the availability column. @default "availability" */
  readonly availabilityLabel?: string;
  /** Feeds, PDUs, racks and hosts by power state; without it they are drawn as planned. */
  readonly power?: DiagramPower;
  /** service id → share of the window it was down for want of power, and for other reasons. */
  readonly downtime?: Readonly<Record<string, { readonly power: number; readonly failure: number }>>;
}

const M = 20;
const RACK_W = 470;
const RACK_GAP = 24;
const FEED_W = 150;
const FEED_H = 34;
const PDU_W = 84;
const PDU_H = 24;
const CHIP_H = 22;
const CHIPS_PER_ROW = 3;
const FEED_COLOURS = ["#2f6fd0", "#e07b1f", "#2a9d8f", "#9b5de5", "#c1121f", "#6a994e"];

export const STATE_COLOURS: Readonly<Record<ReplicaState, string>> = {
  up: "#2e9d4f",
  degraded: "#e0a526",
  down: "#d63c3c",
  unknown: "#8a94a6",
  "no-power": "#c4c9d3",
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const idOf = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "_");

interface RackLayout {
  readonly id: string;
  readonly x: number;
  readonly pdus: readonly { id: string; feed: string }[];
  readonly hosts: readonly DiagramHost[];
}

function racksOf(model: DiagramModel): RackLayout[] {
  const order: string[] = [];
  const hosts = new Map<string, DiagramHost[]>();
  for (const h of model.hosts) {
    if (!hosts.has(h.rack)) {
      order.push(h.rack);
      hosts.set(h.rack, []);
    }
    hosts.get(h.rack)!.push(h);
  }
  return order.map((id, i) => {
    const pdus = new Map<string, string>();
    for (const h of hosts.get(id)!) for (const p of h.psus) if (!pdus.has(p.pdu)) pdus.set(p.pdu, p.feed);
    const sorted = [...pdus].sort(([a], [b]) => a.localeCompare(b)).map(([pdu, feed]) => ({ id: pdu, feed }));
    return { id, x: M + i * (RACK_W + RACK_GAP), pdus: sorted, hosts: hosts.get(id)! };
  });
}

function hostHeight(h: DiagramHost): number {
  const rows = Math.max(1, Math.ceil(h.replicas.length / CHIPS_PER_ROW));
  return Math.max(26 + rows * (CHIP_H + 4) + 4, 22 + h.psus.length * 10);
}

/** Renders the drawing; the same model and state always give the same bytes. */
export function renderDatacenterSvg(model: DiagramModel, state: DiagramState = {}): string {
  const feeds = [...new Set(model.hosts.flatMap((h) => h.psus.map((p) => p.feed)))].sort();
  const feedColour = new Map(feeds.map((f, i) => [f, FEED_COLOURS[i % FEED_COLOURS.length]!]));
  const replicaById = new Map(model.replicas.map((r) => [r.id, r]));
  const racks = racksOf(model);
  const feedY = 44;
  const trunkY = (f: number) => feedY + FEED_H + 14 + f * 6;
  const rackY = trunkY(feeds.length) + 18;
  const out: string[] = [];
  let bottom = rackY;

  // Feeds along the top.
  const power = state.power;
  feeds.forEach((f, i) => {
    const x = M + i * (FEED_W + 16);
    const p = power?.feeds[f];
    const fill = !p || p.state === "powered" ? feedColour.get(f) : p.state === "unpowered" ? "#3d4350" : "#b8bfcc";
    const label = p && p.state !== "powered" ? ` · ${p.state === "unpowered" ? "no power" : "unknown"}` : "";
    out.push(
      `<g class="feed" data-feed="${esc(f)}"${p ? ` data-power="${p.state}"` : ""}>${p ? `<title>feed ${esc(f)}: ${p.state} — ${esc(p.detail)}</title>` : ""}<rect x="${x}" y="${feedY}" width="${FEED_W}" height="${FEED_H}" rx="4" fill="${fill}"/>` +
        `<text x="${x + FEED_W / 2}" y="${feedY + 22}" text-anchor="middle" class="light">feed ${esc(f)}${label}</text></g>`,
    );
  });

  for (const rack of racks) {
    const feedGutter = 8 + feeds.length * 6;
    const pduX = rack.x + feedGutter;
    const busX0 = pduX + PDU_W + 10;
    const busX = (i: number) => busX0 + i * 8;
    const hostX = busX(rack.pdus.length) + 8;
    const hostW = rack.x + RACK_W - 10 - hostX;
    const chipW = Math.floor((hostW - 16 - (CHIPS_PER_ROW - 1) * 6) / CHIPS_PER_ROW);
    const top = rackY + 30;
    const pduY = (i: number) => top + i * (PDU_H + 8);
    const body: string[] = [];

    // Hosts stacked in the rack, their replicas as chips.
    let y = top;
    const psuLinks: string[] = [];
    for (const h of rack.hosts) {
      const hh = hostHeight(h);
      const hp = hostPower(power, h.id, hostX + hostW / 2, y + 16);
      body.push(
        `<g class="host" data-host="${esc(h.id)}"${hp.attr}><title>host ${esc(h.id)}${h.kind ? ` (${esc(h.kind)})` : ""}, rack ${esc(h.rack)}, PSUs on ${esc(h.psus.map((p) => p.pdu).join(", ") || "none")}${esc(hp.title)}</title>` +
          `<rect x="${hostX}" y="${y}" width="${hostW}" height="${hh}" rx="3" class="${hp.boxClass}"/>` +
          `<text x="${hostX + 8}" y="${y + 16}" class="hostname">${esc(h.id)}</text>` +
          hp.label +
          (h.kind ? `<text x="${hostX + hostW - 8}" y="${y + 16}" text-anchor="end" class="muted">${esc(h.kind)}</text>` : ""),
      );
      h.replicas.forEach((rid, i) => {
        const r = replicaById.get(rid);
        const st = state.replicas?.[rid] ?? "unknown";
        const cx = hostX + 8 + (i % CHIPS_PER_ROW) * (chipW + 6);
        const cy = y + 24 + Math.floor(i / CHIPS_PER_ROW) * (CHIP_H + 4);
        const detail = state.details?.[rid];
        const tip = `${rid}${r ? ` (${r.service}, ${r.role})` : ""} on ${h.id}: ${st}${detail ? ` — ${detail}` : ""}`;
        body.push(
          `<g class="replica st-${st}" id="replica-${idOf(rid)}" data-replica="${esc(rid)}" data-service="${esc(r?.service ?? "")}" data-state="${st}"><title>${esc(tip)}</title>` +
            `<rect x="${cx}" y="${cy}" width="${chipW}" height="${CHIP_H}" rx="3" fill="${STATE_COLOURS[st]}"/>` +
            `<text x="${cx + chipW / 2}" y="${cy + 15}" text-anchor="middle" class="${st === "no-power" ? "dim" : "light"}">${esc(cut(rid, 14))}</text></g>`,
        );
      });
      body.push("</g>");
      // One wire per power supply: from its PDU's bus to the host's left edge.
      h.psus.forEach((p, j) => {
        const bi = rack.pdus.findIndex((d) => d.id === p.pdu);
        const wy = y + 12 + j * 10;
        psuLinks.push(
          `<path d="M${busX(bi)} ${wy}H${hostX}" stroke="${feedColour.get(p.feed)}" class="wire"${wireDash(power?.pdus[p.pdu])}/><circle cx="${hostX}" cy="${wy}" r="2.5" fill="${feedColour.get(p.feed)}"/>`,
        );
      });
      y += hh + 8;
    }
    const hostsBottom = y;
    const rackH = Math.max(hostsBottom, pduY(rack.pdus.length)) - rackY + 4;
    bottom = Math.max(bottom, rackY + rackH);

    // PDUs down the left side; each feeds a vertical bus the host wires hang from.
    const pdus = rack.pdus.map((p, i) => {
      const py = pduY(i);
      const fi = feeds.indexOf(p.feed);
      const colour = feedColour.get(p.feed)!;
      const feedX = M + fi * (FEED_W + 16) + FEED_W / 2;
      const gutterX = rack.x + 5 + fi * 6;
      const pp = pduPower(power?.pdus[p.id]);
      return (
        `<path d="M${feedX} ${feedY + FEED_H}V${trunkY(fi)}H${gutterX}V${py + PDU_H / 2}H${pduX}" stroke="${colour}" class="wire"${wireDash(power?.feeds[p.feed])}/>` +
        `<path d="M${pduX + PDU_W} ${py + PDU_H / 2}H${busX(i)}V${hostsBottom - 8}" stroke="${colour}" class="wire"${wireDash(power?.pdus[p.id])}/>` +
        `<g class="pdu" data-pdu="${esc(p.id)}"${pp.attr}><title>PDU ${esc(p.id)} on feed ${esc(p.feed)}${esc(pp.title)}</title><rect x="${pduX}" y="${py}" width="${PDU_W}" height="${PDU_H}" rx="3" fill="${pp.fill}" stroke="${colour}" stroke-width="2"/>` +
        `<text x="${pduX + PDU_W / 2}" y="${py + 16}" text-anchor="middle" class="${pp.text}">${esc(cut(p.id, 12))}</text></g>`
      );
    });

    const rp = rackPower(power?.racks[rack.id]);
    out.push(
      `<g class="rack" data-rack="${esc(rack.id)}"${rp.attr}>${rp.title ? `<title>rack ${esc(rack.id)}${esc(rp.title)}</title>` : ""}<rect x="${rack.x}" y="${rackY}" width="${RACK_W}" height="${rackH}" rx="6" class="${rp.boxClass}"/>` +
        `<text x="${pduX}" y="${rackY + 20}" class="rackname">rack ${esc(rack.id)}</text>` +
        pdus.join("") +
        psuLinks.join("") +
        body.join("") +
        "</g>",
    );
  }

  // Per-service availability underneath.
  const tableY = bottom + 34;
  const label = state.availabilityLabel ?? "availability";
  out.push(`<text x="${M}" y="${tableY}" class="rackname">services</text><text x="${M + 300}" y="${tableY}" class="muted">${esc(label)}</text>`);
  model.services.forEach((s, i) => {
    const y = tableY + 20 + i * 20;
    const a = state.availability?.[s.id];
    const states = s.replicas.map((r) => state.replicas?.[r] ?? "unknown");
    const up = states.filter((x) => x === "up").length;
    const dark = states.filter((x) => x === "no-power").length;
    const bar = a === undefined ? `<text x="${M + 300}" y="${y}" class="muted">n/a</text>` : serviceBar(M + 300, y, a, state.downtime?.[s.id], STATE_COLOURS);
    const count = state.replicas
      ? `${up}/${s.replicas.length} up${dark > 0 ? ` · ${dark} no power` : ""}`
      : `${s.replicas.length} replica${s.replicas.length === 1 ? "" : "s"}`;
    out.push(
      `<g class="service" data-service="${esc(s.id)}"><text x="${M}" y="${y}" class="small">${esc(s.id)} (${esc(s.role)})</text>` +
        `<text x="${M + 170}" y="${y}" class="small">${count}</text>${bar}</g>`,
    );
  });

  const width = Math.max(M * 2 + racks.length * (RACK_W + RACK_GAP) - RACK_GAP, M * 2 + feeds.length * (FEED_W + 16), 620);
  const height = tableY + 20 + model.services.length * 20 + 10;
  const states = Object.keys(STATE_COLOURS) as ReplicaState[];
  const legend =
    states
      .map(
        (s, i) =>
          `<rect x="${width - M - states.length * 92 + i * 92}" y="10" width="12" height="12" fill="${STATE_COLOURS[s]}"/><text x="${width - M - states.length * 92 + i * 92 + 16}" y="20" class="small">${s === "no-power" ? "no power" : s}</text>`,
      )
      .join("") + (power ? powerLegend(width - M, 26) : "");
  return withAttributes(
    [
      `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="datacenter ${esc(model.datacenter)}">`,
      `<g font-family="system-ui,sans-serif" font-size="12" fill="#1d2433">`,
      `<text x="${M}" y="26" class="rackname">datacenter ${esc(model.datacenter)} (${esc(model.domain)})</text>`,
      legend,
      ...out,
      "</g>",
      "</svg>",
      "",
    ].join("\n"),
  );
}

/**
 * Styles as presentation attributes rather than a <style> element: a page with a strict
 * Content-Security-Policy (the NOC's) drops inline <style> from an embedded SVG, and
 * attributes also survive tools that ignore CSS. The class stays for pages and tests.
 */
const STYLE_ATTRS: Readonly<Record<string, string>> = {
  light: 'fill="#fff" font-weight="600"',
  small: 'font-size="11"',
  muted: 'font-size="11" fill="#667085"',
  hostname: 'font-weight="600"',
  rackname: 'font-size="13" font-weight="700"',
  rackbox: 'fill="#f4f6fa" stroke="#98a2b3"',
  hostbox: 'fill="#fff" stroke="#667085"',
  wire: 'fill="none" stroke-width="2"',
  dim: 'fill="#475467" font-weight="600"',
  ...POWER_STYLE_ATTRS,
};
const STYLED = new RegExp(`class="(${Object.keys(STYLE_ATTRS).join("|")})"`, "g");

function withAttributes(svg: string): string {
  return svg.replace(STYLED, (m, name: string) => `${m} ${STYLE_ATTRS[name]}`);
}
