/** How a view picks a network: by its declared exposure (contracts/networks.ts), never by its id. */
import type { DatacenterPlan } from "../plan";

const exposures = new WeakMap<DatacenterPlan, ReadonlyMap<string, string>>();

/** network id → exposure of the plan's networks. */
export function exposureOf(plan: DatacenterPlan): ReadonlyMap<string, string> {
  let map = exposures.get(plan);
  if (!map) exposures.set(plan, (map = new Map(plan.networks.map((n) => [n.id, n.exposure]))));
  return map;
}

/**
 * The network one replica reaches another on: one both are attached to, a management network
 * first when `management` is "first" (health probes) or last when it is "last" (traffic: the
 * management network carries health data only, yet it is the last resort), then by id.
 * Undefined when they share none.
 */
export function sharedNetwork(
  plan: DatacenterPlan,
  from: Readonly<Record<string, string>>,
  to: Readonly<Record<string, string>>,
  management: "first" | "last",
): string | undefined {
  const exposure = exposureOf(plan);
  const rank = (n: string) => (exposure.get(n) === "management" ? (management === "first" ? 0 : 1) : management === "first" ? 1 : 0);
  let best: string | undefined;
  for (const n of Object.keys(from)) {
    if (to[n] === undefined) continue;
    if (best === undefined || rank(n) < rank(best) || (rank(n) === rank(best) && n < best)) best = n;
  }
  return best;
}
