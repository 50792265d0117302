import { writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { EXIT, UsageError, type CliCommand, type CliIo } from "../command";
import { readScenario } from "../scenario";
import { loadPlan, table } from "../stack";
import {
  estimateAvailability,
  nMinusOne,
  nMinusTwo,
  redundantServicesDown,
  ScenarioError,
  serviceVerdicts,
  simulateScenario,
  tierName,
  UnknownComponentError,
} from "../../components/power";
import { clock, renderHtml, renderSvg } from "../../components/power/chart";
import type { AvailabilityResult, NMinusOneRow, RedundantServiceDown, ScenarioResult, Segment, ServiceVerdict } from "../../components/power";
import type { DatacenterPlan } from "../../components/plan";

const USAGE = `Usage: serverpark simulate <stack> --scenario <file|events> [--generator-start ok|fail|sample] [--seed S] [--chart out.svg|out.html] [--json]
       serverpark simulate <stack> --n-1 [--n-2] [--json]
       serverpark simulate <stack> --availability [--years N] [--seed S] [--json]

Plays the datacenter's power chain through failures (components/power/README.md states the model).

Modes (exactly one):
  --scenario <file|events>  a discrete-event scenario: a YAML/JSON file, or events inline as
                            <component>@<at>[/<for>],… e.g. "utility:A@0/2h,host:h3@30m";
                            "!host:h3@2h" repairs. Components: feed:A utility:A ups:A
                            generator:A pdu:<id> rack:<id> host:<id>. Prints the event log,
                            downtime per service and host, and a timeline.
  --n-1                     fail every feed, utility, UPS, generator, PDU, rack and host in turn:
                            what goes down (settled) and what is interrupted (transient).
                            Exits 1 when a service declared redundant goes down in any of
                            them (a stateful service counts a lost replica as a loss unless
                            it replicates: components/spec/redundancy.ts), else 0; --json
                            says which under "redundantDown"
  --n-2                     with --n-1: also every pair that takes down a service neither
                            failure takes down alone; a redundant service down in a pair
                            fails the run too (two replicas do not survive both their hosts)
  --availability            Monte-Carlo over simulated years: availability per service with a
                            95 % confidence interval, site power availability, comparable tier

Options:
  --years N                 years to simulate (default 1000)
  --seed S                  random seed (default 1); same seed, same result
  --generator-start MODE    generator start attempts in a scenario: ok, fail or sample (default:
                            the scenario's setting, else sample with the spec's probability)
  --chart FILE              write the scenario timeline as SVG (.svg) or an HTML page (.html)
  --json                    print the result as JSON`;

function integer(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got "${String(value)}"`);
  return n;
}

/** A lane as text: '=' up the whole cell, '.' down the whole cell, '~' both within the cell. */
function bar<S>(segments: readonly Segment<S>[], horizon: number, isUp: (s: S) => boolean, width = 48): string {
  let out = "";
  for (let i = 0; i < width; i++) {
    const from = (i / width) * horizon;
    const to = ((i + 1) / width) * horizon;
    const inCell = segments.filter((s) => s.to > from && s.from < to);
    const ups = inCell.map((s) => isUp(s.state));
    out += ups.every((u) => u) ? "=" : ups.every((u) => !u) ? "." : "~";
  }
  return out;
}

function renderScenario(r: ScenarioResult): string {
  const events = table(
    ["TIME", "EVENT"],
    r.events.map((e) => [clock(e.at), e.text]),
  );
  const scale = `0${" ".repeat(40)}${clock(r.horizonSeconds).padStart(7)}`;
  const feeds = table(
    ["FEED", "TIMELINE (= utility, g generator, u UPS, . dark)"],
    r.feeds.map((f) => [f.feed, feedBar(f.segments, r.horizonSeconds)]),
  );
  const services = table(
    ["SERVICE", "DOWNTIME", "OUTAGES", "TIMELINE (= up, . down)"],
    r.services.map((s) => [s.service, clock(s.downtimeSeconds), String(s.outages), bar(s.segments, r.horizonSeconds, (x) => x.up)]),
  );
  const hosts = table(
    ["HOST", "DOWNTIME", "TIMELINE (= powered, . dark)"],
    r.hosts.map((h) => [h.host, clock(h.downtimeSeconds), bar(h.segments, r.horizonSeconds, (x) => x.powered)]),
  );
  return [`Scenario: ${r.name} (simulated ${clock(r.horizonSeconds)})`, "", events, "", feeds, "", services, "", hosts, "", `timeline scale: ${scale}`].join(
    "\n",
  );
}

function feedBar(segments: ScenarioResult["feeds"][number]["segments"], horizon: number, width = 48): string {
  const letter = { utility: "=", generator: "g", ups: "u", none: "." } as const;
  let out = "";
  for (let i = 0; i < width; i++) {
    const mid = ((i + 0.5) / width) * horizon;
    const seg = segments.find((s) => s.from <= mid && mid < s.to) ?? segments[segments.length - 1];
    out += seg ? letter[seg.state.source] : " ";
  }
  return out;
}

function renderNMinusOne(
  plan: DatacenterPlan,
  rows: readonly NMinusOneRow[],
  verdicts: readonly ServiceVerdict[],
  redundantDown: readonly RedundantServiceDown[],
  pairs?: readonly NMinusOneRow[],
): string {
  const list = (xs: readonly string[]) => xs.join(" ") || "-";
  const t = table(
    ["FAILED", "KIND", "SERVICES DOWN", "INTERRUPTED", "HOSTS DARK", "TRIPPED"],
    rows.map((r) => [r.component, r.kind, list(r.servicesDown), list(r.servicesInterrupted), list(r.hostsDown), list(r.tripped)]),
  );
  const v = table(
    ["SERVICE", "REDUNDANT", "N-1", "DOWN BY", "INTERRUPTED BY"],
    verdicts.map((s) => [
      s.service,
      s.redundant ? "yes" : "no",
      s.survivesNMinusOne ? (s.uninterrupted ? "survives" : "survives (interrupted)") : s.redundant ? "FAILS (declared redundant)" : "fails",
      list(s.downBy),
      list(s.interruptedBy),
    ]),
  );
  const out = [`N-1 analysis of ${plan.datacenter}: ${rows.length} single failures`, "", t, "", v];
  if (pairs)
    out.push(
      "",
      `N-2: ${pairs.length} failure pairs take down a service that neither failure takes down alone`,
      "",
      table(
        ["FAILED PAIR", "SERVICES DOWN"],
        pairs.map((p) => [p.component, list(p.servicesDown)]),
      ),
    );
  out.push(
    "",
    redundantDown.length === 0
      ? `Every service declared redundant survives ${pairs ? "any single failure and any pair of failures" : "any single failure"}.`
      : `FAIL: services declared redundant go down after ${pairs ? "a single failure or a pair of failures" : "a single failure"}: ${redundantDown
          .map((s) => `${s.service} (${s.downBy.slice(0, 8).join(", ")}${s.downBy.length > 8 ? `, … ${s.downBy.length} in all` : ""})`)
          .join("; ")}`,
  );
  return out.join("\n");
}

const pct = (x: number) => `${(x * 100).toFixed(4)} %`;

function renderAvailability(a: AvailabilityResult): string {
  const t = table(
    ["SERVICE", "AVAILABILITY", "95 % CI", "DOWNTIME H/YR", "OUTAGES/YR"],
    a.services.map((s) => [
      s.service,
      pct(s.availability.mean),
      `${pct(s.availability.low)} – ${pct(s.availability.high)}`,
      s.downtimeHoursPerYear.toFixed(3),
      s.outagesPerYear.toFixed(3),
    ]),
  );
  const site = a.sitePowerAvailability;
  return [
    `Monte-Carlo over ${a.years} simulated years (seed ${a.seed})`,
    "",
    t,
    "",
    `Site power availability: ${pct(site.mean)} (95 % CI ${pct(site.low)} – ${pct(site.high)}); worst host ${a.worstHost.host} at ${pct(a.worstHost.availability)}`,
    `Comparable tier: ${tierName(a.tier.topologyTier)} by topology${a.tier.availabilityTier !== undefined ? `, ${tierName(a.tier.availabilityTier)} by estimated availability` : ""}`,
    "",
    ...a.tier.reasoning.map((r) => `  ${r}`),
  ].join("\n");
}

/** A one-line progress bar on stderr; only for terminals (callers check `io.interactive`). */
function progress(io: CliIo, total: number): (done: number) => void {
  let shown = -1;
  return (done) => {
    const pctDone = Math.floor((done / total) * 100);
    if (pctDone === shown) return;
    shown = pctDone;
    const filled = Math.round(pctDone / 4);
    process.stderr.write(`\r[${"#".repeat(filled)}${" ".repeat(25 - filled)}] ${pctDone}% ${done}/${total} years${done === total ? "\n" : ""}`);
  };
}

export const command: CliCommand = {
  name: "simulate",
  summary: "play power failures through the datacenter: scenarios, N-1 and availability",
  usage: USAGE,
  options: {
    scenario: { type: "string" },
    "n-1": { type: "boolean" },
    "n-2": { type: "boolean" },
    availability: { type: "boolean" },
    years: { type: "string" },
    seed: { type: "string" },
    "generator-start": { type: "string" },
    chart: { type: "string" },
    json: { type: "boolean" },
  },
  positionals: { min: 1, max: 1 },
  run({ values, positionals }, io) {
    const modes = [values.scenario !== undefined && "--scenario", values["n-1"] === true && "--n-1", values.availability === true && "--availability"].filter(
      Boolean,
    );
    if (modes.length !== 1)
      throw new UsageError(modes.length === 0 ? "choose one of --scenario, --n-1 or --availability" : `choose one mode, not ${modes.join(" and ")}`);
    if (values["n-2"] === true && values["n-1"] !== true) throw new UsageError("--n-2 goes with --n-1");
    if (values.chart !== undefined && values.scenario === undefined) throw new UsageError("--chart goes with --scenario");
    const start = values["generator-start"];
    if (start !== undefined && !["ok", "fail", "sample"].includes(String(start)))
      throw new UsageError(`--generator-start must be ok, fail or sample, got "${String(start)}"`);
    const seed = values.seed === undefined ? undefined : integer(values.seed, "seed", 1, 0);
    const json = values.json === true;
    const { spec, plan } = loadPlan(positionals[0]!, io.cwd);

    try {
      if (values.scenario !== undefined) {
        const scenario = readScenario(String(values.scenario), io.cwd);
        const result = simulateScenario(spec, plan, {
          ...scenario,
          ...(start !== undefined ? { generatorStart: start } : {}),
          ...(seed !== undefined ? { seed } : {}),
        });
        if (values.chart !== undefined) {
          const file = String(values.chart);
          if (!/\.(svg|html?)$/i.test(file)) throw new UsageError(`--chart must end in .svg or .html, got "${file}"`);
          writeFileSync(resolve(io.cwd, file), /\.svg$/i.test(file) ? renderSvg(result) : renderHtml(result));
          io.err(`chart written to ${relative(io.cwd, resolve(io.cwd, file))}`);
        }
        io.out(json ? JSON.stringify(result, (_, v: unknown) => (v === Infinity ? null : v), 2) : renderScenario(result));
        return EXIT.ok;
      }
      if (values["n-1"] === true) {
        const rows = nMinusOne(spec, plan);
        const verdicts = serviceVerdicts(plan, rows);
        const pairs = values["n-2"] === true ? nMinusTwo(spec, plan) : undefined;
        // The gate: a service declared redundant that any analysed failure (or pair) takes down.
        const redundantDown = redundantServicesDown(plan, [...rows, ...(pairs ?? [])]);
        const ok = redundantDown.length === 0;
        io.out(
          json
            ? JSON.stringify({ ok, redundantDown, rows, verdicts, ...(pairs ? { pairs } : {}) }, null, 2)
            : renderNMinusOne(plan, rows, verdicts, redundantDown, pairs),
        );
        return ok ? EXIT.ok : EXIT.invalid;
      }
      const years = integer(values.years, "years", 1000, 1);
      const showProgress = io.interactive && !json && years >= 200;
      const result = estimateAvailability(spec, plan, { years, seed: seed ?? 1, ...(showProgress ? { onProgress: progress(io, years) } : {}) });
      io.out(json ? JSON.stringify(result, null, 2) : renderAvailability(result));
      return EXIT.ok;
    } catch (e) {
      if (e instanceof ScenarioError || e instanceof UnknownComponentError) {
        io.err(`serverpark simulate: ${e.message}`);
        return EXIT.invalid;
      }
      throw e;
    }
  },
};
