/**
 * What losing one replica costs a service: the one rule that `validate`, the power model
 * (components/power: the simulator, N-1 and N-2, `serverpark simulate`) and the policies
 * sp-101 and sp-111 all apply, so none of them counts a replica as a spare when it is not.
 *
 * A stateless replica is interchangeable with any other. A stateful one is a spare only when
 * the role copies its data to the other replicas: db with two or more replicas is one
 * PostgreSQL group (a primary and hot standbys with automatic failover). mail and file keep
 * their data on their own volume, so two replicas would be two separate sets of mailboxes or
 * files: losing either loses data, and `validate` refuses them.
 */
import { ROLE_INFO, type Role } from "../../contracts/roles";

/** Stateful roles whose replicas replicate their data, from how many replicas on. */
const REPLICATES_FROM: Partial<Readonly<Record<Role, number>>> = { db: 2 };

/** Why a stateful role that does not replicate cannot have a second replica (validate's message). */
const NOT_REPLICATED: Partial<Readonly<Record<Role, string>>> = {
  mail: "mail does not replicate its mailboxes yet: two replicas would hold different data",
  file: "file does not replicate its files yet: two replicas would hold different data",
};

/** A service as the rule sees it: the spec's (replicas as a count) or the plan's (replica ids). */
export interface ReplicaSet {
  readonly role: Role;
  readonly replicas: number | readonly unknown[];
  readonly minReplicas?: number;
}

const count = (svc: ReplicaSet) => (typeof svc.replicas === "number" ? svc.replicas : svc.replicas.length);

/** The replicas keep one copy of the data between them (db with replicas ≥ 2). */
export function replicatesData(svc: ReplicaSet): boolean {
  const from = REPLICATES_FROM[svc.role];
  return ROLE_INFO[svc.role].stateful && from !== undefined && count(svc) >= from;
}

/**
 * The service survives the loss of one replica: it is stateless or it replicates. Only such
 * a service can be redundant; any other loses the data of the replica that went.
 */
export function survivesReplicaLoss(svc: ReplicaSet): boolean {
  return !ROLE_INFO[svc.role].stateful || replicatesData(svc);
}

/**
 * How many replicas must run for the service to be up: its `minReplicas` (default 1) when it
 * survives a replica's loss, else every replica (each holds data no other has).
 */
export function replicasNeeded(svc: ReplicaSet): number {
  return survivesReplicaLoss(svc) ? (svc.minReplicas ?? 1) : count(svc);
}

/**
 * The group's arbiters: members that serve no client but decide its failovers (an HA db's
 * pg_auto_failover monitor, in the plan's replicas but not among the service's). With one
 * member lost, only an arbiter promotes a standby, or lets a primary whose synchronous
 * standby is gone accept writes again; without one running, a replicated service that lost a
 * member is down. (Stated for the worst case of two data nodes: with more, a primary whose
 * other standbys still acknowledge would keep writing.)
 */
export interface Arbiters {
  readonly total: number;
  readonly running: number;
}

/**
 * The service is up with `running` of its replicas running (and `arbiters`, when its group has
 * any). The power model's inner loop calls {@link upWith} with the numbers precomputed.
 */
export function serviceUp(svc: ReplicaSet, running: number, arbiters: Arbiters = { total: 0, running: 0 }): boolean {
  return upWith(replicasNeeded(svc), count(svc), running, arbiters.total, arbiters.running);
}

/** The rule on counts: `running` of `total` replicas with `needed` required, and the group's arbiters. */
export function upWith(needed: number, total: number, running: number, arbiters: number, arbitersRunning: number): boolean {
  return running >= needed && (running === total || arbiters === 0 || arbitersRunning > 0);
}

/**
 * Why `validate` refuses this many replicas of a stateful role that does not replicate
 * (undefined when it accepts them).
 */
export function unreplicatedReplicas(svc: ReplicaSet): string | undefined {
  if (count(svc) < 2 || survivesReplicaLoss(svc)) return undefined;
  return NOT_REPLICATED[svc.role] ?? `${svc.role} does not replicate its data: two replicas would hold different data`;
}
