/**
 * What the `Datacenter` component publishes about its power: small, plain data that a
 * policy, a report or `pulumi stack output` can read without re-running the model.
 */
import type { DatacenterPlan } from "../plan/types";
import type { DatacenterSpec } from "../spec/schema";
import { nMinusOne, serviceVerdicts } from "./nminus";
import { assessTier } from "./tier";
import { powerTopology } from "./topology";
import { defaultReliability, reliabilityModel } from "./reliability";
import type { NMinusOneRow, ReliabilityModel, ServiceVerdict, TierAssessment } from "./types";

export interface PowerSummary {
  readonly nMinusOne: readonly NMinusOneRow[];
  readonly verdicts: readonly ServiceVerdict[];
  /** Topology rules only (no Monte-Carlo: that belongs to `serverpark simulate --availability`). */
  readonly tier: TierAssessment;
}

export function powerSummary(spec: DatacenterSpec, plan: DatacenterPlan): PowerSummary {
  const rows = nMinusOne(spec, plan);
  return { nMinusOne: rows, verdicts: serviceVerdicts(plan, rows), tier: assessTier(powerTopology(spec), undefined, reliabilityModel(spec)) };
}

/**
 * Seconds a full UPS battery carries `loadKw` — the simulator's battery law: runtime ×
 * (capacity / (load + losses))^k, losses = `idleLossFraction` × capacity. Infinity when
 * nothing at all is drawn.
 */
export function upsRuntimeSeconds(
  ups: { readonly capacityKw: number; readonly runtimeMinutes: number },
  loadKw: number,
  model: Pick<ReliabilityModel, "upsPeukertExponent" | "upsIdleLossFraction"> = defaultReliability(),
): number {
  const drawn = loadKw + model.upsIdleLossFraction * ups.capacityKw;
  if (drawn <= 0) return Number.POSITIVE_INFINITY;
  return ups.runtimeMinutes * 60 * Math.pow(ups.capacityKw / drawn, model.upsPeukertExponent);
}
