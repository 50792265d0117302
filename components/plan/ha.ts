/**
 * The one rule for a highly available db (issue 17): a `db` service with two or more replicas
 * is a pg_auto_failover group — its replicas are the data nodes (a primary and hot standbys)
 * and the plan adds one **monitor**, a small member that decides failovers
 * (images/db/README.md "High availability"). The monitor is a replica of the service's
 * image with its own id, placed on a host that holds none of the data nodes and, when the
 * datacenter allows, in another rack and on another feed: a power cut that takes a data node
 * must not take the monitor with it. It is not one of the service's `replicas` (it serves no
 * client and counts for no availability), but it is in `plan.replicas` and on its host, so
 * every target runs it like any other container.
 */
import { replicatesData, type ReplicaSet } from "../spec/redundancy";
import type { Resources } from "./types";

/** What the monitor takes on its host: one small PostgreSQL with the pgautofailover extension. */
export const HA_MONITOR_RESOURCES: Resources = { cpus: 0.25, memoryGb: 0.25, diskGb: 1 };

/** Whether a service of the spec is an HA group (and so gets a monitor). */
export function isHaGroup(service: ReplicaSet): boolean {
  // The redundancy rule decides which services replicate; a replicating db is this group.
  return service.role === "db" && replicatesData(service);
}

/** The monitor's replica id: `<service>-monitor` (never a `<service>-<index>` of a data node). */
export const monitorId = (service: string): string => `${service}-monitor`;
