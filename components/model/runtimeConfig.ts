/**
 * The configuration a server replica receives (contracts/runtimeConfig.ts, at RUNTIME_CONFIG_PATH): who
 * it is, its role settings, and a directory of every service in the datacenter so that the
 * proxy finds its upstreams, the NOC its probe targets and the DNS server its zones. Derived
 * from the plan only, so every target hands replicas the same file.
 */
import type { DirectoryEntry, ReplicaRuntimeConfig } from "../../contracts/runtimeConfig";
import type { DatacenterPlan, PlannedReplica, PlannedService } from "../plan";

export type { DirectoryEntry, ReplicaRuntimeConfig };

/**
 * Roles that need to know the whole datacenter: the proxy routes to other services' replicas,
 * the NOC probes and draws everything. Other roles get only themselves, which keeps every
 * replica's config small (a full directory in every container grows with the square of the
 * datacenter's size).
 */
const SEES_DATACENTER: ReadonlySet<string> = new Set(["proxy", "noc"]);

const directories = new WeakMap<DatacenterPlan, DirectoryEntry[]>();

export function directoryOf(plan: DatacenterPlan): DirectoryEntry[] {
  const cached = directories.get(plan);
  if (cached) return cached;
  const byId = new Map(plan.replicas.map((r) => [r.id, r]));
  const directory = plan.services.map((s) => ({
    id: s.id,
    role: s.role,
    ports: s.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
    replicas: s.replicas.map((id) => {
      const r = byId.get(id)!;
      return { id, host: r.host, addresses: r.addresses, ...(r.managementAddress ? { managementAddress: r.managementAddress } : {}) };
    }),
  }));
  directories.set(plan, directory);
  return directory;
}

export function replicaRuntimeConfig(plan: DatacenterPlan, replica: PlannedReplica, service: PlannedService): ReplicaRuntimeConfig {
  return {
    datacenter: plan.datacenter,
    domain: plan.domain,
    service: service.id,
    role: service.role,
    replica: replica.id,
    host: replica.host,
    rack: replica.rack,
    feeds: replica.feeds,
    addresses: replica.addresses,
    networks: Object.fromEntries(
      plan.networks
        .filter((n) => n.id in replica.addresses)
        .map((n): [string, string] => [n.id, n.cidr])
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
    ...(replica.managementAddress ? { managementAddress: replica.managementAddress } : {}),
    settings: service.settings,
    directory: SEES_DATACENTER.has(service.role) ? directoryOf(plan) : directoryOf(plan).filter((d) => d.id === service.id),
    hosts: (SEES_DATACENTER.has(service.role) ? plan.hosts : plan.hosts.filter((h) => h.id === replica.host)).map((h) => ({
      id: h.id,
      rack: h.rack,
      kind: h.kind,
      feeds: h.feeds,
      psus: h.psus,
      addresses: h.addresses,
    })),
    ...(service.role === "dns" ? { zones: plan.zones } : {}),
    ...(service.backup ? { backup: service.backup } : {}),
  };
}
