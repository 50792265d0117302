/**
 * A scenario as a live run: the simulator plays the power chain, and this turns its host and
 * feed timelines into the list of changes a controller must apply to the running
 * datacenter, each with its simulated instant and, for a given speed, its real instant.
 * Pure: no Docker, no clock.
 */
import type { DatacenterPlan } from "../../plan/types";
import type { DatacenterSpec } from "../../spec/schema";
import { parseScenario, simulateScenario } from "../scenario";
import { powerTopology } from "../topology";
import type { ScenarioResult, Segment } from "../types";

/** The local stack's 10-minute UPS runtime plays out in about 10 s. */
export const DEFAULT_SPEED = 60;

/** What a host's agent is told: is the host powered, and which of its feeds are live. */
export interface HostPowerState {
  readonly powered: boolean;
  /** The feeds of the host's PSUs → whether the feed has a source (utility, generator or UPS). */
  readonly feeds: Readonly<Record<string, boolean>>;
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

  const instants = new Set<number>();
  for (const segments of [...feedOf.values(), ...hostOf.values()]) for (const s of segments) if (s.to > s.from) instants.add(s.from);
  const times = [...instants].sort((a, b) => a - b);

  const previous = new Map<string, HostPowerState>(plan.hosts.map((h) => [h.id, { powered: true, feeds: Object.fromEntries(h.feeds.map((f) => [f, true])) }]));
  const changes: HostPowerChange[] = [];
  for (const at of times) {
    for (const host of plan.hosts) {
      const powered = stateAt(hostOf.get(host.id) ?? [], at)?.powered ?? true;
      const feeds = Object.fromEntries(host.feeds.map((f) => [f, (stateAt(feedOf.get(f) ?? [], at)?.source ?? "utility") !== "none"]));
      const before = previous.get(host.id)!;
      const sameFeeds = host.feeds.every((f) => feeds[f] === before.feeds[f]);
      if (before.powered === powered && sameFeeds) continue;
      const kind: ChangeKind = before.powered === powered ? "supply" : powered ? "power-on" : "power-off";
      changes.push({ host: host.id, kind, at, powered, feeds });
      previous.set(host.id, { powered, feeds });
    }
  }
  const lastEvent = Math.max(...scenario.events.map((e) => e.at + (e.for ?? 0)));
  const lastChange = changes.length > 0 ? changes[changes.length - 1]!.at : 0;
  const endSeconds = scenario.duration ?? Math.max(lastEvent, lastChange);
  return { name: simulation.name, endSeconds, changes: changes.filter((c) => c.at <= endSeconds), simulation };
}
