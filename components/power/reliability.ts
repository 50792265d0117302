/**
 * Failure and repair rates per component kind, and the battery/fuel constants of the
 * simulation. The defaults are a documented starting point (see README.md for sources);
 * a stack overrides any of them under `serverpark:datacenter.reliability`.
 */
import type { DatacenterSpec } from "../spec/schema";
import { COMPONENT_KINDS, type ComponentKind, type Rate, type ReliabilityModel } from "./types";

export interface RateSource extends Rate {
  readonly source: string;
}

/** Default rates. Keep README.md's table in sync (a test checks it). */
export const DEFAULT_RATES: Readonly<Record<ComponentKind, RateSource>> = {
  utility: { failuresPerYear: 1.956, meanRepairHours: 1.32, source: "IEEE 493 (Gold Book): single-circuit utility supply, as commonly quoted" },
  feed: { failuresPerYear: 0.005, meanRepairHours: 24, source: "estimate, order of IEEE 493 switchgear-bus figures (10^-3/yr, about a day to repair)" },
  ups: { failuresPerYear: 0.05, meanRepairHours: 8, source: "estimate from vendor UPS MTBF claims (100,000–200,000 h) and a same-day service call" },
  generator: {
    failuresPerYear: 0.17,
    meanRepairHours: 18,
    source: "IEEE 493: packaged diesel engine generator, as commonly quoted (start failures come from the spec)",
  },
  pdu: { failuresPerYear: 0.01, meanRepairHours: 4, source: "estimate, order of IEEE 493 low-voltage breaker and panelboard figures" },
  rack: { failuresPerYear: 0.01, meanRepairHours: 8, source: "estimate: rack-wide incidents (busbar, cabling, water, human error)" },
  host: { failuresPerYear: 0.3, meanRepairHours: 12, source: "estimate: server hardware incidents that stop the host (PSU, board, memory, boot disk)" },
};

export const DEFAULT_UPS_RECHARGE_HOURS = 8;
/** 1 = constant battery energy: runtime at load P is runtime × (capacity / P). */
export const DEFAULT_UPS_PEUKERT_EXPONENT = 1;
/**
 * A double-conversion UPS loses a few per cent of its rating even at no load (inverter,
 * fans); without it, a lightly loaded battery would seem to last for hours.
 */
export const DEFAULT_UPS_IDLE_LOSS_FRACTION = 0.04;
/** Typical diesel part-load curves burn about 30 % of full-load fuel at no load. */
export const DEFAULT_GENERATOR_IDLE_FUEL_FRACTION = 0.3;

export function defaultReliability(): ReliabilityModel {
  return {
    rates: Object.fromEntries(
      COMPONENT_KINDS.map((k) => [k, { failuresPerYear: DEFAULT_RATES[k].failuresPerYear, meanRepairHours: DEFAULT_RATES[k].meanRepairHours }]),
    ) as Record<ComponentKind, Rate>,
    upsRechargeHours: DEFAULT_UPS_RECHARGE_HOURS,
    upsPeukertExponent: DEFAULT_UPS_PEUKERT_EXPONENT,
    upsIdleLossFraction: DEFAULT_UPS_IDLE_LOSS_FRACTION,
    generatorIdleFuelFraction: DEFAULT_GENERATOR_IDLE_FUEL_FRACTION,
  };
}

/** Overrides as written in the stack (every field optional). */
export interface ReliabilityOverrides {
  readonly rates?: Partial<Record<ComponentKind, Partial<Rate>>>;
  readonly upsRechargeHours?: number;
  readonly upsPeukertExponent?: number;
  readonly upsIdleLossFraction?: number;
  readonly generatorIdleFuelFraction?: number;
}

/** The defaults with the stack's `reliability` overrides (if any) and then `extra` applied. */
export function reliabilityModel(spec: Pick<DatacenterSpec, "reliability">, extra: ReliabilityOverrides = {}): ReliabilityModel {
  const base = defaultReliability();
  const layers: ReliabilityOverrides[] = [spec.reliability ?? {}, extra];
  const rates = { ...base.rates };
  let model: ReliabilityModel = base;
  for (const layer of layers) {
    for (const kind of COMPONENT_KINDS) {
      const o = layer.rates?.[kind];
      if (o) rates[kind] = { ...rates[kind], ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
    }
    model = {
      rates,
      upsRechargeHours: layer.upsRechargeHours ?? model.upsRechargeHours,
      upsPeukertExponent: layer.upsPeukertExponent ?? model.upsPeukertExponent,
      upsIdleLossFraction: layer.upsIdleLossFraction ?? model.upsIdleLossFraction,
      generatorIdleFuelFraction: layer.generatorIdleFuelFraction ?? model.generatorIdleFuelFraction,
    };
  }
  return model;
}
