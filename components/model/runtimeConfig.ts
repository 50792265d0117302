/**
 * The configuration a server replica receives (mounted as /etc/serverpark/config.json): who
 * it is, its role settings, and a directory of every service in the datacenter so that the
 * proxy finds its upstreams, the NOC its probe targets and the DNS server its zones. Derived
 * from the plan only, so every target hands replicas the same file.
 */
import type { DatacenterPlan, DnsZone, PlannedReplica, PlannedService } from "../plan";

export const RUNTIME_CONFIG_PATH = "/etc/serverpark/config.json";

export interface DirectoryEntry {
  readonly id: string;
  readonly role: string;
  readonly ports: readonly { readonly name: string; readonly port: number; readonly protocol: string }[];
  readonly replicas: readonly { readonly id: string; readonly host: string; readonly addresses: Readonly<Record<string, string>>; readonly managementAddress?: string }[];
}

export interface ReplicaRuntimeConfig {
  readonly datacenter: string;
  readonly domain: string;
  readonly service: string;
  readonly role: string;
  readonly replica: string;
  readonly host: string;
  readonly rack: string;
  readonly feeds: readonly string[];
  readonly addresses: Readonly<Record<string, string>>;
  readonly managementAddress?: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly directory: readonly DirectoryEntry[];
  readonly hosts: readonly { readonly id: string; readonly rack: string; readonly feeds: readonly string[]; readonly addresses: Readonly<Record<string, string>> }[];
  /** Only for the dns role: the zones it serves. */
  readonly zones?: readonly DnsZone[];
}

export function directoryOf(plan: DatacenterPlan): DirectoryEntry[] {
  const byId = new Map(plan.replicas.map((r) => [r.id, r]));
  return plan.services.map((s) => ({
    id: s.id,
    role: s.role,
    ports: s.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
    replicas: s.replicas.map((id) => {
      const r = byId.get(id)!;
      return { id, host: r.host, addresses: r.addresses, ...(r.managementAddress ? { managementAddress: r.managementAddress } : {}) };
    }),
  }));
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
    ...(replica.managementAddress ? { managementAddress: replica.managementAddress } : {}),
    settings: service.settings,
    directory: directoryOf(plan),
    hosts: plan.hosts.map((h) => ({ id: h.id, rack: h.rack, feeds: h.feeds, addresses: h.addresses })),
    ...(service.role === "dns" ? { zones: plan.zones } : {}),
  };
}
