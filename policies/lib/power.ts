/**
 * The questions the power policies ask, answered by the power model (components/power, issue
 * 7). This file only adapts: it never decides what has power, nor how long a battery lasts.
 */
import type { DatacenterPlan } from "../../components/plan/types";
import {
  componentId,
  evaluatePower,
  nMinusOne,
  powerTopology,
  reliabilityModel,
  serviceVerdicts,
  upsRuntimeSeconds,
  type PowerState,
  type PowerTopology,
  type ServiceVerdict,
} from "../../components/power";
import type { DatacenterSpec, FeedSpec } from "../../components/spec/schema";

export interface PowerView {
  readonly topology: PowerTopology;
  /** Steady state once these components (`feed:A`, `host:h1`, …) have failed. */
  stateAfter(failed: readonly string[]): PowerState;
  /** The most a feed carries: with everything up, or after any one other feed is lost. */
  worstFeedLoadKw(feed: string): number;
  /** Seconds the feed's UPS carries `loadKw` on a full battery; undefined without a UPS. */
  upsRuntimeSeconds(feed: FeedSpec, loadKw: number): number | undefined;
  /** Per service: which single failures of the given kinds take it down. */
  verdicts(kinds: readonly string[]): ServiceVerdict[];
}

export function powerView(spec: DatacenterSpec, plan: DatacenterPlan): PowerView {
  const topology = powerTopology(spec);
  const states = new Map<string, PowerState>();
  const stateAfter = (failed: readonly string[]) => {
    const key = [...failed].sort().join("+");
    let state = states.get(key);
    if (!state) states.set(key, (state = evaluatePower(topology, failed)));
    return state;
  };
  const reliability = reliabilityModel(spec);
  return {
    topology,
    stateAfter,
    worstFeedLoadKw(feed) {
      const scenarios = [[], ...spec.feeds.filter((f) => f.id !== feed).map((f) => [componentId("feed", f.id)])];
      return Math.max(...scenarios.map((failed) => stateAfter(failed).feedLoadKw[feed] ?? 0));
    },
    upsRuntimeSeconds(feed, loadKw) {
      return feed.ups ? upsRuntimeSeconds(feed.ups, loadKw, reliability) : undefined;
    },
    verdicts(kinds) {
      return serviceVerdicts(plan, nMinusOne(spec, plan, { kinds, transients: false }));
    },
  };
}
