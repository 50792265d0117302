/**
 * A db replica's HA view (contracts/views/db.ts): for the members of a highly available db
 * group (components/plan/ha.ts) — its part, the address it registers under, the monitor's
 * and the data nodes' addresses, all on the group's network: the service's first declared
 * network that is not a management one (else its first). Nothing for a db with one replica.
 */
import { rolePort } from "../../contracts/roles";
import type { DbHaView } from "../../contracts/views/db";
import type { DatacenterPlan, PlannedReplica, PlannedService } from "../plan";

/** The network the group's members talk over (and clients reach the data nodes on). */
export function haNetwork(plan: DatacenterPlan, service: PlannedService): string {
  const management = new Set(plan.networks.filter((n) => n.exposure === "management").map((n) => n.id));
  return service.networks.find((n) => !management.has(n)) ?? service.networks[0]!;
}

export function dbHaView(plan: DatacenterPlan, replica: PlannedReplica, service: PlannedService): DbHaView | undefined {
  if (!service.ha) return undefined;
  const net = haNetwork(plan, service);
  const port = rolePort("db", "postgres");
  const byId = new Map(plan.replicas.map((r) => [r.id, r]));
  const at = (id: string) => byId.get(id)!.addresses[net]!;
  return {
    part: replica.part === "monitor" ? "monitor" : "postgres",
    name: replica.id,
    hostname: replica.addresses[net]!,
    monitor: { host: at(service.ha.monitor), port },
    nodes: service.replicas.map((id) => ({ name: id, host: at(id), port })),
  };
}
