/**
 * The bridge from the power model (components/power, issue 7) to the diff's
 * `RedundancyModel`: every single component failure (feed, utility, UPS, generator, PDU, rack,
 * host) is played against each side's plan, and a service that any one of them takes down
 * fails N-1. Transients (a UPS that cannot bridge the generator start) are left out here: the
 * diff compares settled states, which is what changes when hosts, feeds or replicas change.
 */
import { nMinusOne, serviceVerdicts } from "../power";
import type { RedundancyModel } from "./redundancy";

/** `feed:B` → `feed B`, so verdicts read like the rest of the diff. */
const componentName = (id: string) => id.replace(":", " ");

export const powerRedundancyModel: RedundancyModel = {
  source: "power model N-1 (every single feed, utility, UPS, generator, PDU, rack and host failure)",
  analyze(spec, plan) {
    const rows = nMinusOne(spec, plan, { transients: false });
    return serviceVerdicts(plan, rows).map((v) => ({
      service: v.service,
      survives: v.survivesNMinusOne,
      failures: [...new Set(v.downBy.map(componentName))].sort(),
    }));
  },
};

export function defaultRedundancyModel(): RedundancyModel | undefined {
  return powerRedundancyModel;
}
