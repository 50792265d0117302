/**
 * What a role adds to its replicas beyond the common deployment: extra certificate names,
 * and files (configuration, generated credentials) placed in every replica of a service.
 * Hooks are target-agnostic: the files go into each replica's launch description
 * (components/model/launch.ts), which the Docker target uploads into containers and the
 * Hetzner target writes through cloud-init.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { DatacenterPlan, PlannedService } from "../plan";
import type { DatacenterSpec } from "../spec/schema";

export interface ReplicaFile {
  /** Absolute path inside the replica, e.g. /etc/serverpark/secrets/users.json. */
  readonly path: string;
  readonly content: pulumi.Input<string>;
  /** Content is a secret (keys, passwords): kept as a Pulumi secret end to end. */
  readonly secret?: boolean;
  /**
   * Only the members of one part of an HA db group: its data nodes, or its monitor (least
   * privilege: the monitor never holds the application's or the replication password).
   * Default: every replica of the service.
   */
  readonly part?: "data" | "monitor";
}

export interface RoleHookContext {
  /** The service component's name: prefix every resource name with it. */
  readonly name: string;
  /** Parent for any resource the hook creates (e.g. random.RandomPassword). */
  readonly parent: pulumi.Resource;
  readonly service: PlannedService;
  readonly plan: DatacenterPlan;
  readonly spec: DatacenterSpec;
}

export interface RoleHooks {
  /** Extra DNS names for the service's TLS certificate (e.g. the sites a proxy serves). */
  certificateNames?(service: PlannedService, plan: DatacenterPlan): string[];
  /** Files the replicas of the service receive (every replica, or one part's: ReplicaFile.part). Called once per service. */
  files?(ctx: RoleHookContext): ReplicaFile[];
}
