/**
 * Public types of the power model. Other parts of Serverpark (the policy pack, `serverpark
 * diff`, the NOC) depend on these shapes: add fields, never rename or remove them.
 */

/** Every kind of component whose failure the model can play out. */
export const COMPONENT_KINDS = ["feed", "utility", "ups", "generator", "pdu", "rack", "host"] as const;
export type ComponentKind = (typeof COMPONENT_KINDS)[number];

/**
 * A component id is `<kind>:<id>`: `utility:A`, `ups:A`, `generator:A`, `feed:A` (the feed's
 * switchgear and bus, where its sources join), `pdu:r1-pdu-a`, `rack:r1`, `host:h1`.
 */
export type ComponentId = string;

export interface PowerComponent {
  readonly id: ComponentId;
  readonly kind: ComponentKind;
  /** The spec id without the kind prefix (`A`, `r1-pdu-a`, `h1`). */
  readonly name: string;
}

/** What carries a feed's load at a moment. */
export type FeedSource = "utility" | "generator" | "ups" | "none";

/** A service's state for one set of powered hosts. */
export interface ServiceState {
  readonly service: string;
  readonly replicas: number;
  readonly minReplicas: number;
  /**
   * Running replicas the service needs: `minReplicas` when it survives the loss of a replica
   * (stateless, or it replicates), else every replica (components/spec/redundancy.ts).
   */
  readonly needed: number;
  /** Replica ids whose host has power. */
  readonly running: readonly string[];
  /** At least `needed` replicas run. */
  readonly up: boolean;
}

/** Steady-state result of one set of failed components. */
export interface PowerState {
  /** Host ids with power (a failed host never has power). */
  readonly poweredHosts: ReadonlySet<string>;
  /** feed id → what carries it (steady state: utility, else generator). */
  readonly feedSource: Readonly<Record<string, FeedSource>>;
  /** feed id → kW drawn through it. */
  readonly feedLoadKw: Readonly<Record<string, number>>;
  /** pdu id → kW drawn through it. */
  readonly pduLoadKw: Readonly<Record<string, number>>;
  /** Components that tripped on overload (`pdu:…` or `feed:…`) after the failure shifted load. */
  readonly tripped: readonly ComponentId[];
}

/** One row of the N-1 (or N-2) table. */
export interface NMinusOneRow {
  /** The failed component (for N-2, the two joined by `+`). */
  readonly component: ComponentId;
  readonly kind: ComponentKind;
  /** For N-2: both failed components. For N-1: just `[component]`. */
  readonly failed: readonly ComponentId[];
  /** Services below their minimum of replicas once the failure has settled. */
  readonly servicesDown: readonly string[];
  /**
   * Services that drop while the failure happens but come back without repair (e.g. the UPS
   * runtime is shorter than the generator's start delay). Disjoint from `servicesDown`.
   */
  readonly servicesInterrupted: readonly string[];
  /** Hosts without power once the failure has settled. */
  readonly hostsDown: readonly string[];
  /** Components that tripped on overload. */
  readonly tripped: readonly ComponentId[];
}

/** Per service: does it survive every single failure? (what policies and diff consume) */
export interface ServiceVerdict {
  readonly service: string;
  readonly redundant: boolean;
  /** No single component failure takes the service down (interruptions allowed). */
  readonly survivesNMinusOne: boolean;
  /** No single component failure even interrupts it. */
  readonly uninterrupted: boolean;
  /** Components whose failure alone takes the service down. */
  readonly downBy: readonly ComponentId[];
  /** Components whose failure alone interrupts it. */
  readonly interruptedBy: readonly ComponentId[];
}

/** A stretch of time with one state. Times are seconds from the start of the scenario. */
export interface Segment<S> {
  readonly from: number;
  readonly to: number;
  readonly state: S;
}

export interface HostTimeline {
  readonly host: string;
  readonly segments: readonly Segment<{ readonly powered: boolean }>[];
  readonly downtimeSeconds: number;
}

export interface ServiceTimeline {
  readonly service: string;
  readonly segments: readonly Segment<{ readonly up: boolean; readonly running: number }>[];
  readonly downtimeSeconds: number;
  /** Number of times the service went down. */
  readonly outages: number;
}

export interface FeedTimeline {
  readonly feed: string;
  readonly segments: readonly Segment<{
    readonly source: FeedSource;
    readonly loadKw: number;
    readonly upsCharge: number | null;
    readonly fuel: number | null;
  }>[];
}

export interface TimelineEvent {
  readonly at: number;
  readonly text: string;
}

export interface ScenarioResult {
  readonly name: string;
  readonly horizonSeconds: number;
  readonly events: readonly TimelineEvent[];
  readonly feeds: readonly FeedTimeline[];
  readonly hosts: readonly HostTimeline[];
  readonly services: readonly ServiceTimeline[];
}

/** Failure and repair rates of one component kind. */
export interface Rate {
  /** Mean failures per year of operation (exponential time to failure). */
  readonly failuresPerYear: number;
  /** Mean hours to repair (exponential repair time). */
  readonly meanRepairHours: number;
}

export interface ReliabilityModel {
  readonly rates: Readonly<Record<ComponentKind, Rate>>;
  /** Hours for a UPS battery to recharge from empty to full. */
  readonly upsRechargeHours: number;
  /** Peukert-style exponent of battery runtime versus load (1 = constant energy). */
  readonly upsPeukertExponent: number;
  /** The UPS's own losses while on battery, as a fraction of its rating (drawn on top of the load). */
  readonly upsIdleLossFraction: number;
  /** Fraction of full-load fuel burn a running generator uses at no load. */
  readonly generatorIdleFuelFraction: number;
}

export interface AvailabilityInterval {
  readonly mean: number;
  /** 95 % confidence interval over the simulated years (normal approximation). */
  readonly low: number;
  readonly high: number;
}

export interface ServiceAvailability {
  readonly service: string;
  readonly availability: AvailabilityInterval;
  readonly downtimeHoursPerYear: number;
  readonly outagesPerYear: number;
}

export interface TierRule {
  readonly tier: 1 | 2 | 3 | 4;
  readonly rule: string;
  readonly passed: boolean;
  readonly detail: string;
}

export interface TierAssessment {
  /** Highest tier whose topology rules (and all lower tiers' rules) pass; 0 = below Tier I. */
  readonly topologyTier: 0 | 1 | 2 | 3 | 4;
  /** Highest tier whose published availability the estimated site availability reaches (when estimated). */
  readonly availabilityTier?: 0 | 1 | 2 | 3 | 4;
  readonly rules: readonly TierRule[];
  /** Human-readable reasoning, one line each. */
  readonly reasoning: readonly string[];
}

export interface AvailabilityResult {
  readonly years: number;
  readonly seed: number;
  readonly services: readonly ServiceAvailability[];
  /** Fraction of time a host's power supplies had power (its own failures excluded), averaged over hosts. */
  readonly sitePowerAvailability: AvailabilityInterval;
  /** The host with the lowest power availability. */
  readonly worstHost: { readonly host: string; readonly availability: number };
  readonly tier: TierAssessment;
  readonly reliability: ReliabilityModel;
}
