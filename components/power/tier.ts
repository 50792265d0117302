/**
 * Which Uptime-Institute-style tier the power topology is comparable to, with the reasoning.
 *
 * Uptime Institute's tiers are about topology (Turner, Seader, Brill: "Tier Classifications
 * Define Site Infrastructure Performance"): Tier I has a UPS and an engine generator at
 * capacity N on one path; Tier II adds redundant capacity components (N+1); Tier III is
 * concurrently maintainable (multiple paths, dual-corded IT, any component can be taken
 * out); Tier IV is fault tolerant (2N: any single failure leaves the load carried, with no
 * interruption). The same paper's site availability figures are quoted for comparison.
 * We check the power chain only (no cooling, no compartmentalisation): this is a
 * "comparable" tier, not a certification.
 */
import { PowerFlow } from "./flow";
import { defaultReliability } from "./reliability";
import { Simulator, type SimEvent } from "./simulator";
import { ServiceIndex, steadySources } from "./steady";
import type { PowerTopology } from "./topology";
import type { ReliabilityModel, TierAssessment, TierRule } from "./types";

/** Published site availability per tier (Uptime Institute). */
export const TIER_AVAILABILITY: Readonly<Record<1 | 2 | 3 | 4, number>> = { 1: 0.99671, 2: 0.99741, 3: 0.99982, 4: 0.99995 };

const POWER_KINDS = new Set(["feed", "utility", "ups", "generator", "pdu"]);

/**
 * @param siteAvailability estimated site power availability to compare with the published figures
 * @param reliability battery and fuel constants for the transient rules (default: the defaults)
 */
export function assessTier(topology: PowerTopology, siteAvailability?: number, reliability: ReliabilityModel = defaultReliability()): TierAssessment {
  const check = new Checker(topology, reliability);
  const rules: TierRule[] = [];
  const rule = (tier: TierRule["tier"], text: string, problems: string[]) =>
    rules.push({
      tier,
      rule: text,
      passed: problems.length === 0,
      detail: problems.length === 0 ? "ok" : problems.slice(0, 5).join("; ") + (problems.length > 5 ? `; … (${problems.length} in all)` : ""),
    });

  const usedFeeds = [...new Set(topology.hosts.flatMap((h) => h.pdus.map((p) => topology.pdus[p]!.feed)))].map((f) => topology.feeds[f]!);
  const utilities = topology.feeds.map((f) => f.utilityComponent);
  const power = topology.components.flatMap((c, i) => (POWER_KINDS.has(c.kind) ? [i] : []));

  rule(
    1,
    "every feed that carries hosts has a UPS and an engine generator",
    usedFeeds
      .filter((f) => !f.ups || !f.generator)
      .map((f) => `feed ${f.id} lacks ${[!f.ups && "a UPS", !f.generator && "a generator"].filter(Boolean).join(" and ")}`),
  );
  rule(1, "capacity N: all hosts powered on utility, and on generators alone", [...check.dark([], "on utility"), ...check.dark(utilities, "on generators")]);

  rule(
    2,
    "N+1 generators: losing any one during a utility outage leaves every host powered",
    topology.feeds.filter((f) => f.generator).flatMap((f) => check.dark([...utilities, f.generatorComponent], `without generator ${f.id}`)),
  );
  const total = topology.hosts.reduce((s, h) => s + h.kw, 0);
  const upsKw = topology.feeds.flatMap((f) => (f.ups ? [f.ups.capacityKw] : []));
  const upsLeft = upsKw.reduce((a, b) => a + b, 0) - Math.max(0, ...upsKw);
  rule(
    2,
    "N+1 UPS capacity: without the largest UPS the others still cover the whole load",
    upsLeft + 1e-9 < total ? [`${round(upsLeft)} kW of UPS left for ${round(total)} kW`] : [],
  );

  rule(
    3,
    "every host draws from two feeds (dual-corded, two paths)",
    topology.hosts.filter((h) => new Set(h.pdus.map((p) => topology.pdus[p]!.feed)).size < 2).map((h) => `host ${h.id} has one feed`),
  );
  rule(
    3,
    "concurrently maintainable: any one feed, utility, UPS, generator or PDU can be taken out (also on generator power)",
    power.flatMap((c) => [
      ...check.dark([c], `without ${topology.components[c]!.id}`),
      ...check.dark([...new Set([...utilities, c])], `without ${topology.components[c]!.id} on generators`),
    ]),
  );

  rule(
    4,
    "2N: each feed's utility, UPS and generator alone carry the whole load",
    topology.feeds.flatMap((f) => {
      const weakest = Math.min(f.utilityKw, f.ups?.capacityKw ?? 0, f.generator?.capacityKw ?? 0);
      return weakest + 1e-9 < total ? [`feed ${f.id} carries ${round(weakest)} kW of ${round(total)} kW`] : [];
    }),
  );
  rule(
    4,
    "fault tolerant: no single power component failure interrupts any host, even during a utility outage",
    power.flatMap((c) => [
      ...check.interrupted([c], [], `when ${topology.components[c]!.id} fails`),
      ...check.interrupted([c], utilities, `when ${topology.components[c]!.id} fails in a utility outage`),
    ]),
  );

  let topologyTier: TierAssessment["topologyTier"] = 0;
  for (const t of [1, 2, 3, 4] as const) {
    if (rules.filter((r) => r.tier === t).every((r) => r.passed)) topologyTier = t;
    else break;
  }
  const reasoning = rules.map((r) => `${tierName(r.tier)}: ${r.passed ? "pass" : "FAIL"}: ${r.rule}${r.passed ? "" : ` (${r.detail})`}`);
  reasoning.push(
    `Topology is comparable to ${tierName(topologyTier)}${topologyTier < 4 ? `: the first failing rule above keeps it from ${tierName((topologyTier + 1) as 1 | 2 | 3 | 4)}` : ""}.`,
  );
  let availabilityTier: TierAssessment["availabilityTier"];
  if (siteAvailability !== undefined) {
    availabilityTier = 0;
    for (const t of [1, 2, 3, 4] as const) if (siteAvailability >= TIER_AVAILABILITY[t]) availabilityTier = t;
    reasoning.push(
      `Estimated site power availability ${(siteAvailability * 100).toFixed(4)} % reaches ${availabilityTier === 0 ? "no tier's" : `${tierName(availabilityTier)}'s`} published figure (I ${pct(1)}, II ${pct(2)}, III ${pct(3)}, IV ${pct(4)}).`,
    );
  }
  return { topologyTier, ...(availabilityTier !== undefined ? { availabilityTier } : {}), rules, reasoning };
}

export function tierName(t: number): string {
  return t === 0 ? "below Tier I" : `Tier ${["I", "II", "III", "IV"][t - 1]}`;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
const pct = (t: 1 | 2 | 3 | 4) => `${(TIER_AVAILABILITY[t] * 100).toFixed(3)} %`;

/** Evaluates failure sets for the rules: steady-state darkness, and transients through the simulator. */
class Checker {
  private readonly flow: PowerFlow;
  private readonly sim: Simulator;
  private readonly down: Uint8Array;

  constructor(
    private readonly topology: PowerTopology,
    reliability: ReliabilityModel,
  ) {
    this.flow = new PowerFlow(topology);
    this.down = new Uint8Array(topology.components.length);
    // Tier rules are about hosts, not services: an empty service index keeps the simulator lean.
    this.sim = new Simulator(topology, new ServiceIndex(topology, { services: [], replicas: [] }), reliability, { generatorStart: "ok", record: false });
  }

  /** Hosts dark in steady state with `failed` down, as problem texts. */
  dark(failed: readonly number[], when: string): string[] {
    this.down.fill(0);
    for (const c of failed) this.down[c] = 1;
    this.flow.evaluate(this.down, steadySources(this.topology, this.down));
    const dark = this.topology.hosts.filter((_, h) => this.flow.hostPowered[h] === 0).map((h) => h.id);
    return dark.length > 0 ? [`${when}: ${list(dark)} dark`] : [];
  }

  /** Hosts that lose power at any moment within an hour when `failed` break at t=0 and `outage` utilities fail at t=0. */
  interrupted(failed: readonly number[], outage: readonly number[], when: string): string[] {
    const events: SimEvent[] = [...new Set([...failed, ...outage])].map((component) => ({ at: 0, component, down: true }));
    const run = this.sim.run(3600, events);
    const hit = this.topology.hosts.filter((_, h) => run.hostDowntime[h]! > 0).map((h) => h.id);
    return hit.length > 0 ? [`${when}: ${list(hit)} lost power`] : [];
  }
}

function list(ids: string[]): string {
  return ids.length <= 6 ? ids.join(", ") : `${ids.slice(0, 6).join(", ")} and ${ids.length - 6} more hosts`;
}
