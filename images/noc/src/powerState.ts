/**
 * What the NOC can honestly say about power from the host agents' reports (`GET /power`,
 * images/host-agent/src/power.ts). The agents are the only witnesses: a host's agent plays its
 * BMC and power meter, so it knows whether the host runs and, per power supply, whether input
 * arrives (its PDU and feed are live) and whether the unit itself works. Nothing reports a
 * feed or a PDU directly, so those are inferred from the PSUs plugged into them:
 *
 * - host: `powered` / `unpowered` as its agent says; `unknown` when the agent did not answer
 *   (timeout, refused, a certificate the datacenter CA did not sign, a malformed answer) —
 *   never `unpowered`, since a dark host and a broken network look the same from here.
 * - PDU: `powered` when any PSU on it reports input (one live outlet proves the PDU live);
 *   `unpowered` only when every PSU the plan plugs into it was reported and none has input;
 *   otherwise `unknown`.
 * - feed: `powered` when any of its PDUs is; `unpowered` when all of them are; otherwise
 *   `unknown`. (A feed whose every PDU tripped looks the same as a dead feed: the agents
 *   cannot tell those apart, so neither can the NOC.)
 * - rack: racks have no power of their own here; `powered` when every host in it reports
 *   power, `unpowered` when every host reports none, `partial` when both are reported,
 *   otherwise `unknown`.
 *
 * A failed PSU unit reports input all the same (a real PSU's input sensor works while its
 * output does not), so one broken unit never makes its PDU look dead.
 */
import { z } from "zod";
import type { DiagramModel } from "../../../contracts/views/noc";

export type PowerState = "powered" | "unpowered" | "partial" | "unknown";

export interface PowerEntry {
  readonly state: PowerState;
  /** One line for the page (what was reported, or why nothing was). */
  readonly detail: string;
}

/** The power picture at one moment; every feed, PDU, rack and host of the model is listed. */
export interface PowerView {
  /** When the last poll round ended (undefined before the first). */
  readonly at: number | undefined;
  readonly feeds: Readonly<Record<string, PowerEntry>>;
  readonly pdus: Readonly<Record<string, PowerEntry>>;
  readonly racks: Readonly<Record<string, PowerEntry>>;
  readonly hosts: Readonly<Record<string, PowerEntry>>;
}

const name = z.string().max(128);

/** An agent's `GET /power` answer, validated: any container may be compromised, so it is bounded. */
export const agentReportSchema = z.object({
  powered: z.boolean(),
  feeds: z.record(name, z.boolean()),
  pdus: z.record(name, z.boolean()),
  psus: z.array(z.object({ id: name, pdu: name, feed: name, healthy: z.boolean(), powered: z.boolean() })).max(64),
});
export type AgentReport = z.output<typeof agentReportSchema>;

/** Per host: the agent's report, or why there is none. */
export type HostReading = { readonly report: AgentReport } | { readonly error: string };

/** Input at one planned PSU: true, false, or undefined when nobody said. */
function psuInput(report: AgentReport | undefined, pdu: string, feed: string): boolean | undefined {
  if (!report) return undefined;
  const listed = report.psus.some((p) => p.pdu === pdu && p.feed === feed);
  const pduUp = report.pdus[pdu];
  const feedUp = report.feeds[feed];
  if (!listed || pduUp === undefined || feedUp === undefined) return undefined;
  return pduUp && feedUp;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Derives the whole picture from the latest readings (hosts without one are unknown). */
export function derivePower(model: DiagramModel, readings: ReadonlyMap<string, HostReading>, at: number | undefined): PowerView {
  const hosts: Record<string, PowerEntry> = {};
  const pduInputs = new Map<string, { feed: string; inputs: (boolean | undefined)[] }>();
  for (const h of model.hosts) {
    const reading = readings.get(h.id);
    const report = reading && "report" in reading ? reading.report : undefined;
    if (!report) hosts[h.id] = { state: "unknown", detail: reading && "error" in reading ? `agent did not answer: ${reading.error}` : "no agent address" };
    else {
      const units = report.psus.map((p) => `${p.id} ${p.pdu}/${p.feed} ${p.powered ? "delivering" : !p.healthy ? "failed" : "no input"}`).join(", ");
      hosts[h.id] = { state: report.powered ? "powered" : "unpowered", detail: `agent: ${report.powered ? "powered" : "no power"} (${units || "no PSUs"})` };
    }
    for (const p of h.psus) {
      const entry = pduInputs.get(p.pdu) ?? pduInputs.set(p.pdu, { feed: p.feed, inputs: [] }).get(p.pdu)!;
      entry.inputs.push(psuInput(report, p.pdu, p.feed));
    }
  }

  const pdus: Record<string, PowerEntry> = {};
  const feedPdus = new Map<string, PowerState[]>();
  for (const [id, { feed, inputs }] of [...pduInputs].sort(([a], [b]) => a.localeCompare(b))) {
    const live = inputs.filter((x) => x === true).length;
    const reported = inputs.filter((x) => x !== undefined).length;
    const state: PowerState = live > 0 ? "powered" : reported === inputs.length && reported > 0 ? "unpowered" : "unknown";
    pdus[id] = { state, detail: `${live} of ${plural(inputs.length, "PSU")} report input (${reported} reporting)` };
    (feedPdus.get(feed) ?? feedPdus.set(feed, []).get(feed)!).push(state);
  }

  const feeds: Record<string, PowerEntry> = {};
  for (const [id, states] of [...feedPdus].sort(([a], [b]) => a.localeCompare(b))) {
    const live = states.filter((s) => s === "powered").length;
    const dead = states.filter((s) => s === "unpowered").length;
    const state: PowerState = live > 0 ? "powered" : dead === states.length ? "unpowered" : "unknown";
    feeds[id] = { state, detail: `${live} of ${plural(states.length, "PDU")} powered, ${dead} unpowered` };
  }

  const racks: Record<string, PowerEntry> = {};
  for (const rack of [...new Set(model.hosts.map((h) => h.rack))]) {
    const states = model.hosts.filter((h) => h.rack === rack).map((h) => hosts[h.id]!.state);
    const on = states.filter((s) => s === "powered").length;
    const off = states.filter((s) => s === "unpowered").length;
    const state: PowerState = on === states.length ? "powered" : off === states.length ? "unpowered" : on > 0 && off > 0 ? "partial" : "unknown";
    racks[rack] = { state, detail: `${on} of ${plural(states.length, "host")} powered, ${off} unpowered, ${states.length - on - off} unknown` };
  }
  return { at, feeds, pdus, racks, hosts };
}
