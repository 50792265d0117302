/**
 * The configuration a server replica receives (contracts/runtimeConfig.ts, at RUNTIME_CONFIG_PATH):
 * who it is, its own networks with their exposure, its role settings, and the view its role's
 * job needs, resolved here from the plan — the proxy its routes (./proxyView.ts), the NOC its
 * probe targets and drawing (./nocView.ts), a dns server its final zones (./dnsView.ts), a file
 * server its hosting customers' accounts (./fileView.ts), a mail server their mailboxes
 * (./mailView.ts), the
 * members of an HA db group their part and peers (./dbView.ts). No
 * replica gets the whole directory or every host. Every target hands replicas the same file.
 */
import type { ReplicaRuntimeConfig } from "../../contracts/runtimeConfig";
import type { DatacenterPlan, PlannedReplica, PlannedService } from "../plan";
import { dbHaView } from "./dbView";
import { dnsZonesOf } from "./dnsView";
import { fileAccountsOf } from "./fileView";
import { mailViewOf } from "./mailView";
import { customerSitesOf } from "./webView";
import { nocView } from "./nocView";
import { proxyView } from "./proxyView";

export type { ReplicaRuntimeConfig };

/** What only a replica of this role gets. */
function roleView(plan: DatacenterPlan, replica: PlannedReplica, service: PlannedService): Partial<ReplicaRuntimeConfig> {
  switch (service.role) {
    case "proxy": {
      const { routes, acme } = proxyView(plan, service);
      return { routes, ...(acme ? { acme } : {}) };
    }
    case "noc":
      return { noc: nocView(plan, replica, service) };
    case "dns":
      return { zones: dnsZonesOf(plan, service) };
    case "web": {
      const customerSites = customerSitesOf(plan, service);
      return customerSites.length > 0 ? { customerSites } : {};
    }
    case "file": {
      const accounts = fileAccountsOf(plan, service);
      return accounts.length > 0 ? { accounts } : {};
    }
    case "mail": {
      const mail = mailViewOf(plan, service);
      return mail.domains.length > 0 ? { mail } : {};
    }
    case "db": {
      const ha = dbHaView(plan, replica, service);
      return ha ? { ha } : {};
    }
    default:
      return {};
  }
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
        .map((n): [string, { cidr: string; exposure: typeof n.exposure }] => [n.id, { cidr: n.cidr, exposure: n.exposure }])
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
    ...(replica.managementAddress ? { managementAddress: replica.managementAddress } : {}),
    settings: service.settings,
    ...roleView(plan, replica, service),
    ...(service.backup ? { backup: service.backup } : {}),
  };
}
