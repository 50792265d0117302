/**
 * A.8.23 Web filtering and A.8.26 Application security requirements: the internet-facing
 * front doors run with their per-client limits switched on. Judged on the runtime config each
 * replica is actually given (lib/runtimeConfig.ts), through the same settings schema the role
 * applies at start-up (contracts/settings/), so defaults count as what they are: in force.
 */
import { dnsSettingsSchema } from "../../contracts/settings/dns";
import { proxySettingsSchema } from "../../contracts/settings/proxy";
import { resourcePolicy } from "../lib/policy";
import { describeResource, serverparkLabels, TYPES } from "../lib/resources";
import { runtimeConfigOf } from "../lib/runtimeConfig";

const MIB = 1024 * 1024;

/** What is wrong with a proxy's or dns server's effective limits (empty: in force). */
export function limitProblems(role: string, settings: unknown, max: { bodyBytes: number; upstreamTimeoutMs: number }): string[] {
  if (role === "proxy") {
    const parsed = proxySettingsSchema.safeParse(settings);
    if (!parsed.success) return ["its settings do not parse, so the proxy would not start"];
    const s = parsed.data;
    const problems: string[] = [];
    if (s.rateLimit.requestsPerSecond === 0) problems.push("rateLimit.requestsPerSecond is 0 (no per-client request limit)");
    if (s.maxBodyBytes === 0 || s.maxBodyBytes > max.bodyBytes)
      problems.push(`maxBodyBytes is ${s.maxBodyBytes} (must be between 1 and ${max.bodyBytes}; 0 means unlimited)`);
    if (s.upstreamTimeoutMs > max.upstreamTimeoutMs) problems.push(`upstreamTimeoutMs is ${s.upstreamTimeoutMs} (at most ${max.upstreamTimeoutMs})`);
    return problems;
  }
  if (role === "dns") {
    const parsed = dnsSettingsSchema.safeParse(settings);
    if (!parsed.success) return ["its settings do not parse, so the dns server would not start"];
    return parsed.data.rrl.responsesPerSecond === 0
      ? ["rrl.responsesPerSecond is 0 (response rate limiting off: the server can be used for amplification)"]
      : [];
  }
  return [];
}

export const clientLimitsInForce = resourcePolicy({
  name: "sp-314-client-limits-in-force",
  description:
    "The proxy runs with a per-client request rate limit, a bounded request body and upstream timeout, and the DNS servers with response rate limiting, in the config each replica is given.",
  controls: ["A.8.23", "A.8.26"],
  severity: "high",
  remediationSteps:
    "Remove the setting that switches the limit off (proxy rateLimit.requestsPerSecond: 0, maxBodyBytes: 0 or above the stack's maximum, dns rrl.responsesPerSecond: 0), or set it within bounds.",
  configSchema: {
    properties: {
      maxBodyBytes: { type: "integer", minimum: 1, default: 100 * MIB },
      maxUpstreamTimeoutMs: { type: "integer", minimum: 100, default: 120_000 },
    },
  },
  validateResource: (args, report) => {
    const role = serverparkLabels(args.props).role;
    if (args.type !== TYPES.container || (role !== "proxy" && role !== "dns"))
      return args.notApplicable("applies to Docker containers of the proxy and dns roles (on Hetzner their config travels outside the resource inputs)");
    const config = runtimeConfigOf(args.props);
    if (!config) return args.notApplicable("its runtime config is not known yet (computed during the update)");
    const { maxBodyBytes = 100 * MIB, maxUpstreamTimeoutMs = 120_000 } = args.getConfig<{ maxBodyBytes?: number; maxUpstreamTimeoutMs?: number }>();
    const who = describeResource(args.type, args.name, args.props);
    for (const problem of limitProblems(role, config.settings, { bodyBytes: maxBodyBytes, upstreamTimeoutMs: maxUpstreamTimeoutMs }))
      report(`${who} (role ${role}): ${problem}. Fix: remove the setting or set a bound.`);
  },
});

export const LIMIT_POLICIES = [clientLimitsInForce];
