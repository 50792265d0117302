/**
 * The power model's public API (pure: no Pulumi, no I/O, no clock). See README.md.
 */
export * from "./types";
export { powerTopology, totalLoadKw, componentId, type PowerTopology } from "./topology";
export { poweredHosts, evaluatePower, serviceStates, arbitersOf, UnknownComponentError } from "./steady";
export { nMinusOne, nMinusTwo, serviceVerdicts, redundantServicesDown, type NMinusOneOptions, type RedundantServiceDown } from "./nminus";
export { DEFAULT_RATES, defaultReliability, reliabilityModel, type ReliabilityOverrides } from "./reliability";
export {
  simulateScenario,
  parseScenario,
  parseCompactScenario,
  parseDuration,
  ScenarioError,
  ScenarioSchema,
  type Scenario,
  type ScenarioInput,
} from "./scenario";
export { estimateAvailability, YEAR_SECONDS, type AvailabilityOptions } from "./availability";
export { assessTier, tierName, TIER_AVAILABILITY } from "./tier";
export { powerSummary, upsRuntimeSeconds, type PowerSummary } from "./summary";
