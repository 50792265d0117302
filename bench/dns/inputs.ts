/**
 * What both DNS benches give our server: the local stack's runtime config for its first dns
 * replica (RRL off unless asked for) and dnsperf's question list (every name and type of the
 * forward zone, plus an NXDOMAIN and a NODATA question), written into `dir`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadPlan } from "../../cli/stack";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { ROOT } from "../web/harness";

export function dnsBenchInputs(dir: string, responsesPerSecond = 0) {
  const { plan } = loadPlan("local", ROOT);
  const service = plan.services.find((s) => s.role === "dns")!;
  const replica = plan.replicas.find((r) => r.id === service.replicas[0])!;
  const config = { ...replicaRuntimeConfig(plan, replica, service), settings: { rrl: { responsesPerSecond } } };
  const configPath = join(dir, "config.json");
  writeFileSync(configPath, JSON.stringify(config));
  const zone = plan.zones[0]!;
  const names = [...new Set(zone.records.map((r) => `${r.name} ${r.type}`))];
  const queries = [...names, `nope.${zone.origin} A`, `edge.${zone.origin} MX`];
  const queriesPath = join(dir, "queries");
  writeFileSync(queriesPath, queries.join("\n") + "\n");
  return { zone, configPath, queriesPath, questions: queries.length };
}
