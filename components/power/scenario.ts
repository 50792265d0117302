/**
 * Scenarios: a list of failures and repairs on a clock, read from YAML/JSON or from the
 * CLI's compact form (`utility:A@0/2h,host:h3@30m`), checked with zod so every mistake is
 * reported with its path, then played out by the simulator.
 */
import { z } from "zod";
import type { DatacenterPlan } from "../plan/types";
import type { DatacenterSpec } from "../spec/schema";
import type { SpecIssue } from "../spec/issues";
import { reliabilityModel } from "./reliability";
import { Simulator, type SimEvent, type StartMode } from "./simulator";
import { ServiceIndex, UnknownComponentError } from "./steady";
import { powerTopology, type PowerTopology } from "./topology";
import { stream } from "./random";
import type { ScenarioResult } from "./types";

const DURATION = /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/;

/** `90`, `90s`, `15m`, `2h`, `1h30m`, `2d` → seconds; undefined when malformed. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const m = DURATION.exec(text);
  if (!m || text === "") return undefined;
  const [d, h, min, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  return d! * 86400 + h! * 3600 + min! * 60 + s!;
}

const Duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const seconds = parseDuration(v);
  if (seconds === undefined) {
    ctx.addIssue({ code: "custom", message: `expected a duration such as 90, 30s, 15m, 2h or 1h30m, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return seconds;
});

const StartModeSchema = z.enum(["ok", "fail", "sample"]);

const EventSchema = z
  .strictObject({
    at: Duration,
    fail: z.string().optional(),
    repair: z.string().optional(),
    /** With `fail`: repaired after this long. */
    for: Duration.optional(),
  })
  .refine((e) => (e.fail === undefined) !== (e.repair === undefined), { message: "an event needs exactly one of fail: or repair:" })
  .refine((e) => e.for === undefined || e.fail !== undefined, { message: "for: only goes with fail:", path: ["for"] });

export const ScenarioSchema = z.strictObject({
  name: z.string().optional(),
  /** How long to simulate (default: one hour past the last event). */
  duration: Duration.optional(),
  /** Generator start attempts: forced for all feeds or per feed, or sampled from the spec's probability. */
  generatorStart: z.union([StartModeSchema, z.record(z.string(), StartModeSchema)]).default("sample"),
  /** Seed for sampled generator starts. */
  seed: z.number().int().default(1),
  events: z.array(EventSchema).min(1, "a scenario needs at least one event"),
});

export type ScenarioInput = z.input<typeof ScenarioSchema>;
export type Scenario = z.output<typeof ScenarioSchema>;

/** Thrown for a scenario with problems; `issues` carry paths inside the scenario. */
export class ScenarioError extends Error {
  constructor(readonly issues: readonly SpecIssue[]) {
    super(
      `the scenario has ${issues.length} problem${issues.length === 1 ? "" : "s"}:\n${issues.map((i) => `  - ${i.path.length ? i.path.join(".") + ": " : ""}${i.message}`).join("\n")}`,
    );
    this.name = "ScenarioError";
  }
}

/**
 * The compact CLI form: comma-separated `<component>@<at>[/<for>]`, e.g.
 * `utility:A@0/2h,host:h3@30m/1h`; a `!` prefix means repair (`!host:h3@2h`).
 */
export function parseCompactScenario(text: string): ScenarioInput {
  const events = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part, i) => {
      const m = /^(!?)([^@/]+)@([^/]+)(?:\/(.+))?$/.exec(part);
      if (!m) throw new ScenarioError([{ path: ["events", i], message: `"${part}" is not <component>@<at>[/<for>] (e.g. utility:A@0/2h)` }]);
      const [, repair, component, at, dur] = m;
      return repair ? { at: at!, repair: component! } : { at: at!, fail: component!, ...(dur ? { for: dur } : {}) };
    });
  return { events };
}

/** Validates a scenario against the topology: shape, known components, sensible times. */
export function parseScenario(raw: unknown, topology: PowerTopology): Scenario {
  const parsed = ScenarioSchema.safeParse(raw);
  const issues: SpecIssue[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({ path: i.path.filter((p): p is string | number => typeof p !== "symbol"), message: i.message }));
  // References are checked on the raw input too, so one bad duration does not hide an unknown component.
  const input = (raw ?? {}) as { events?: unknown; generatorStart?: unknown };
  if (Array.isArray(input.events)) {
    input.events.forEach((e: unknown, i) => {
      for (const key of ["fail", "repair"] as const) {
        const id = e && typeof e === "object" ? (e as Record<string, unknown>)[key] : undefined;
        if (typeof id === "string" && !topology.componentIndex.has(id))
          issues.push({ path: ["events", i, key], message: new UnknownComponentError(id, topology).message });
      }
    });
  }
  if (input.generatorStart && typeof input.generatorStart === "object") {
    for (const feed of Object.keys(input.generatorStart)) {
      if (!topology.feeds.some((f) => f.id === feed))
        issues.push({ path: ["generatorStart", feed], message: `no feed "${feed}" (feeds: ${topology.feeds.map((f) => f.id).join(", ")})` });
    }
  }
  if (!parsed.success || issues.length > 0) throw new ScenarioError(issues);
  return parsed.data;
}

/** The scenario's events as simulator events, sorted by time (repairs before failures at the same instant). */
export function scenarioEvents(scenario: Scenario, topology: PowerTopology): SimEvent[] {
  const out: SimEvent[] = [];
  for (const e of scenario.events) {
    const component = topology.componentIndex.get((e.fail ?? e.repair)!)!;
    out.push({ at: e.at, component, down: e.fail !== undefined });
    if (e.fail !== undefined && e.for !== undefined) out.push({ at: e.at + e.for, component, down: false });
  }
  return out.sort((a, b) => a.at - b.at || Number(a.down) - Number(b.down));
}

export function scenarioDuration(scenario: Scenario): number {
  if (scenario.duration !== undefined) return scenario.duration;
  const last = Math.max(...scenario.events.map((e) => e.at + (e.for ?? 0)));
  return last + 3600;
}

/** Plays a scenario out and returns timelines per feed, host and service plus the event log. */
export function simulateScenario(spec: DatacenterSpec, plan: DatacenterPlan, rawScenario: unknown): ScenarioResult {
  const topology = powerTopology(spec);
  const scenario = parseScenario(rawScenario, topology);
  const starts = topology.feeds.map((f) => stream(scenario.seed, `start:${f.id}`));
  const sim = new Simulator(topology, new ServiceIndex(topology, plan), reliabilityModel(spec), {
    generatorStart: scenario.generatorStart as StartMode | Record<string, StartMode>,
    random: (feed) => starts[feed]!(),
    record: true,
  });
  const horizon = scenarioDuration(scenario);
  const run = sim.run(horizon, scenarioEvents(scenario, topology));
  return {
    name: scenario.name ?? scenario.events.map((e) => `${e.fail ? "" : "!"}${e.fail ?? e.repair}@${e.at}s${e.for !== undefined ? `/${e.for}s` : ""}`).join(","),
    horizonSeconds: horizon,
    events: run.log,
    feeds: topology.feeds.map((f, i) => ({ feed: f.id, segments: run.feedSegments[i]! })),
    hosts: topology.hosts.map((h, i) => ({ host: h.id, segments: run.hostSegments[i]!, downtimeSeconds: run.hostDowntime[i]! })),
    services: plan.services.map((s, i) => ({
      service: s.id,
      segments: run.serviceSegments[i]!,
      downtimeSeconds: run.serviceDowntime[i]!,
      outages: run.serviceOutages[i]!,
    })),
  };
}
