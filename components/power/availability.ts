/**
 * Monte-Carlo availability: simulate many independent years in which every component fails
 * and is repaired at random (exponential times to failure and to repair, rates from the
 * reliability model), play each year through the discrete-event simulator, and average.
 * Each year starts healthy; generator start failures are drawn with the spec's probability.
 * Every component has its own random stream (see random.ts).
 * The confidence interval is the normal approximation over per-year availabilities
 * (mean ± 1.96·s/√years); it collapses to the mean with fewer than two years.
 */
import type { DatacenterPlan } from "../plan/types";
import type { DatacenterSpec } from "../spec/schema";
import { reliabilityModel, type ReliabilityOverrides } from "./reliability";
import { Simulator, type SimEvent } from "./simulator";
import { stream } from "./random";
import { ServiceIndex } from "./steady";
import { assessTier } from "./tier";
import { powerTopology, type PowerTopology } from "./topology";
import type { AvailabilityInterval, AvailabilityResult, ReliabilityModel } from "./types";

export const YEAR_SECONDS = 365.25 * 86400;

export interface AvailabilityOptions {
  readonly years: number;
  readonly seed: number;
  /** Rate overrides on top of the stack's own (e.g. from the CLI). */
  readonly rates?: ReliabilityOverrides;
  /** Called after each simulated year (for progress bars). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Running mean and variance (Welford), so a million years need no arrays. */
class Stat {
  private n = 0;
  private mean = 0;
  private m2 = 0;
  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }
  interval(): AvailabilityInterval {
    if (this.n < 2) return { mean: this.mean, low: this.mean, high: this.mean };
    const half = 1.96 * Math.sqrt(this.m2 / (this.n - 1) / this.n);
    return { mean: this.mean, low: Math.max(0, this.mean - half), high: Math.min(1, this.mean + half) };
  }
}

/**
 * One year of random failures and repairs for every component, sorted by time. `random(i)`
 * is component i's own stream.
 */
export function sampleYear(topology: PowerTopology, reliability: ReliabilityModel, random: (component: number) => number): SimEvent[] {
  const events: SimEvent[] = [];
  const components = topology.components;
  for (let component = 0; component < components.length; component++) {
    const rate = reliability.rates[components[component]!.kind];
    if (rate.failuresPerYear <= 0) continue;
    const up = YEAR_SECONDS / rate.failuresPerYear;
    const repair = rate.meanRepairHours * 3600;
    // Exponential draws, -ln(1 − u)·mean, in the order: up time, then repair and up time.
    for (let t = -Math.log(1 - random(component)) * up; t < YEAR_SECONDS;) {
      const back = t + -Math.log(1 - random(component)) * repair;
      events.push({ at: t, component, down: true }, { at: back, component, down: false });
      t = back + -Math.log(1 - random(component)) * up;
    }
  }
  return events.sort((a, b) => a.at - b.at);
}

export function estimateAvailability(spec: DatacenterSpec, plan: DatacenterPlan, options: AvailabilityOptions): AvailabilityResult {
  if (!Number.isInteger(options.years) || options.years < 1) throw new Error(`years must be a whole number ≥ 1, got ${options.years}`);
  const topology = powerTopology(spec);
  const reliability = reliabilityModel(spec, options.rates);
  const services = new ServiceIndex(topology, plan);
  const componentStreams = topology.components.map((c) => stream(options.seed, c.id));
  const startStreams = topology.feeds.map((f) => stream(options.seed, `start:${f.id}`));
  const sim = new Simulator(topology, services, reliability, { generatorStart: "sample", random: (f) => startStreams[f]!(), record: false });

  const serviceStats = services.ids.map(() => new Stat());
  const downtime = new Float64Array(services.ids.length);
  const outages = new Float64Array(services.ids.length);
  const hostSupply = new Float64Array(topology.hosts.length);
  const site = new Stat();
  for (let y = 0; y < options.years; y++) {
    const run = sim.run(
      YEAR_SECONDS,
      sampleYear(topology, reliability, (c) => componentStreams[c]!()),
    );
    for (let s = 0; s < services.ids.length; s++) {
      serviceStats[s]!.add(1 - run.serviceDowntime[s]! / YEAR_SECONDS);
      downtime[s]! += run.serviceDowntime[s]!;
      outages[s]! += run.serviceOutages[s]!;
    }
    let sum = 0;
    for (let h = 0; h < topology.hosts.length; h++) {
      hostSupply[h]! += run.hostSupplyDowntime[h]!;
      sum += 1 - run.hostSupplyDowntime[h]! / YEAR_SECONDS;
    }
    site.add(topology.hosts.length > 0 ? sum / topology.hosts.length : 1);
    options.onProgress?.(y + 1, options.years);
  }

  let worst = { host: topology.hosts[0]?.id ?? "", availability: 1 };
  topology.hosts.forEach((h, i) => {
    const a = 1 - hostSupply[i]! / (YEAR_SECONDS * options.years);
    if (a < worst.availability) worst = { host: h.id, availability: a };
  });
  const siteInterval = site.interval();
  return {
    years: options.years,
    seed: options.seed,
    services: services.ids.map((service, s) => ({
      service,
      availability: serviceStats[s]!.interval(),
      downtimeHoursPerYear: downtime[s]! / 3600 / options.years,
      outagesPerYear: outages[s]! / options.years,
    })),
    sitePowerAvailability: siteInterval,
    worstHost: worst,
    tier: assessTier(topology, siteInterval.mean, reliability),
    reliability,
  };
}
