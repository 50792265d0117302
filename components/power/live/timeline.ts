/**
 * A scenario as a live run: the simulator plays the power chain, and this turns its host and
 * feed timelines into the list of changes a controller must apply to the running
 * datacenter, each with its simulated instant and, for a given speed, its real instant.
 * Pure: no Docker, no clock.
 */
import type { DatacenterPlan, PlannedHost } from "../../plan/types";
import type { DatacenterSpec } from "../../spec/schema";
import { parseScenario, simulateScenario } from "../scenario";
import { powerTopology } from "../topology";
import type { ScenarioResult, Segment } from "../types";

/** The local stack's 10-minute UPS runtime plays out in about 10 s. */
export const DEFAULT_SPEED = 60;

/** What a host's agent is told: is the host powered, and which of its feeds and PDUs are live. */
export interface HostPowerState {
  readonly powered: boolean;
  /** The feeds of the host's PSUs → whether the feed has a source (utility, generator or UPS). */
  readonly feeds: Readonly<Record<string, boolean>>;
  /** The PDUs of the host's PSUs → whether the PDU works (a scenario's `fail: pdu:<id>`); absent: all work. */
  readonly pdus?: Readonly<Record<string, boolean>>;
}

/** Instants at which a PDU fails or is repaired, from the scenario's events. */
function pduChanges(events: readonly { at: number; fail?: string; repair?: string; for?: number }[]): { at: number; pdu: string; up: boolean }[] {
  const out: { at: number; pdu: string; up: boolean }[] = [];
  for (const e of events) {
    const target = e.fail ?? e.repair ?? "";
    if (!target.startsWith("pdu:")) continue;
    const pdu = target.slice("pdu:".length);
    out.push({ at: e.at, pdu, up: e.fail === undefined });
    if (e.fail !== undefined && e.for !== undefined) out.push({ at: e.at + e.for, pdu, up: true });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** Whether `pdu` works at simulated second `t` (the last change at or before `t` decides). */
function pduUpAt(changes: readonly { at: number; pdu: string; up: boolean }[], pdu: string, t: number): boolean {
  let up = true;
  for (const c of changes) if (c.pdu === pdu && c.at <= t) up = c.up;
  return up;
}

/**
 * `power-off`: the host loses power (its replicas die); `power-on`: it boots; `supply`: only
 * what its PSUs see changes (e.g. one feed of a dual-corded host goes dark).
 */
export type ChangeKind = "power-off" | "power-on" | "supply";

export interface HostPowerChange extends HostPowerState {
  readonly host: string;
  readonly kind: ChangeKind;
  /** Simulated seconds from the start of the scenario. */
  readonly at: number;
}

export interface LiveTimeline {
  readonly name: string;
  /** Simulated seconds the live run lasts: the scenario's `duration`, else its last event or change. */
  readonly endSeconds: number;
  /** Host changes in time order (same instant: in host order). */
  readonly changes: readonly HostPowerChange[];
  /** The simulator's full result (service predictions, feed sources, event log). */
  readonly simulation: ScenarioResult;
}

/** Thrown for a speed that is not a positive finite number. */
export class SpeedError extends Error {
  constructor(value: unknown) {
    super(`--speed must be a number greater than 0 (simulated seconds per real second), got "${String(value)}"`);
    this.name = "SpeedError";
  }
}

/** Parses and checks a speed; `undefined` gives the default. */
export function parseSpeed(value: unknown): number {
  if (value === undefined) return DEFAULT_SPEED;
  const text = String(value).trim();
  const n = text === "" ? NaN : Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new SpeedError(value);
  return n;
}

/** Real seconds after the start at which a simulated instant is played. */
export function realSeconds(simSeconds: number, speed: number): number {
  if (!(speed > 0) || !Number.isFinite(speed)) throw new SpeedError(speed);
  return simSeconds / speed;
}

function stateAt<S>(segments: readonly Segment<S>[], t: number): S | undefined {
  // Zero-length segments are instants the simulator passed through: nothing to play.
  return segments.find((s) => s.from <= t && t < s.to)?.state;
}

/**
 * Validates the scenario (the same parser and messages as `serverpark simulate`), runs the
 * simulator and returns every host change up to the end of the live run.
 */
export function liveTimeline(spec: DatacenterSpec, plan: DatacenterPlan, rawScenario: unknown): LiveTimeline {
  const scenario = parseScenario(rawScenario, powerTopology(spec));
  const simulation = simulateScenario(spec, plan, rawScenario);
  const feedOf = new Map(simulation.feeds.map((f) => [f.feed, f.segments]));
  const hostOf = new Map(simulation.hosts.map((h) => [h.host, h.segments]));

  const pduEvents = pduChanges(scenario.events);
  const instants = new Set<number>(pduEvents.map((c) => c.at));
  for (const segments of [...feedOf.values(), ...hostOf.values()]) for (const s of segments) if (s.to > s.from) instants.add(s.from);
  const times = [...instants].sort((a, b) => a - b);

  const pdusOf = (host: PlannedHost) => [...new Set(host.psus.map((p) => p.pdu))];
  const previous = new Map<string, Required<HostPowerState>>(
    plan.hosts.map((h) => [
      h.id,
      { powered: true, feeds: Object.fromEntries(h.feeds.map((f) => [f, true])), pdus: Object.fromEntries(pdusOf(h).map((p) => [p, true])) },
    ]),
  );
  const changes: HostPowerChange[] = [];
  for (const at of times) {
    for (const host of plan.hosts) {
      const powered = stateAt(hostOf.get(host.id) ?? [], at)?.powered ?? true;
      const feeds = Object.fromEntries(host.feeds.map((f) => [f, (stateAt(feedOf.get(f) ?? [], at)?.source ?? "utility") !== "none"]));
      const pdus = Object.fromEntries(pdusOf(host).map((p) => [p, pduUpAt(pduEvents, p, at)]));
      const before = previous.get(host.id)!;
      const sameSupply = host.feeds.every((f) => feeds[f] === before.feeds[f]) && Object.keys(pdus).every((p) => pdus[p] === before.pdus[p]);
      if (before.powered === powered && sameSupply) continue;
      const kind: ChangeKind = before.powered === powered ? "supply" : powered ? "power-on" : "power-off";
      changes.push({ host: host.id, kind, at, powered, feeds, pdus });
      previous.set(host.id, { powered, feeds, pdus });
    }
  }
  const lastEvent = Math.max(...scenario.events.map((e) => e.at + (e.for ?? 0)));
  const lastChange = changes.length > 0 ? changes[changes.length - 1]!.at : 0;
  const endSeconds = scenario.duration ?? Math.max(lastEvent, lastChange);
  return { name: simulation.name, endSeconds, changes: changes.filter((c) => c.at <= endSeconds), simulation };
}
