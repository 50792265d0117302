/**
 * The seam between the model and a place to run it. The `Datacenter` component walks the
 * plan and asks its target for the resources of each network, host and replica; the target
 * decides what those are (Docker networks and containers, or Hetzner servers). Targets never
 * re-plan: placement, addresses and ports come from the plan.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { DatacenterPlan, PlannedHost, PlannedNetwork, PlannedReplica, PlannedService } from "../plan";
import type { DatacenterSpec } from "../spec/schema";
import type { ReplicaFile } from "../roles/types";

/** Where a target creates resources: a name prefix and the component that parents them. */
export interface TargetScope {
  readonly name: string;
  readonly parent: pulumi.Resource;
}

export interface NetworkHandle {
  /** The name other resources use to attach to the network. */
  readonly name: pulumi.Output<string>;
}

export interface ReplicaHandle {
  /** Endpoints users reach from outside, `replica/port` → `address:port`. */
  readonly endpoints: Readonly<Record<string, string>>;
}

export interface DatacenterTarget {
  readonly kind: "docker" | "hetzner";
  /** Resources shared by the whole datacenter (images, certificate authority, …). */
  setup(scope: TargetScope, spec: DatacenterSpec, plan: DatacenterPlan): void;
  network(scope: TargetScope, network: PlannedNetwork): NetworkHandle;
  host(scope: TargetScope, host: PlannedHost, networks: ReadonlyMap<string, NetworkHandle>): void;
  /**
   * Creates one replica. `files` (TLS material, role configuration and credentials) must be
   * placed in the replica at their paths, secrets kept secret. Returns undefined when the
   * target cannot run this replica yet (say why with pulumi.log).
   */
  replica(
    scope: TargetScope,
    replica: PlannedReplica,
    service: PlannedService,
    networks: ReadonlyMap<string, NetworkHandle>,
    files: readonly ReplicaFile[],
  ): ReplicaHandle | undefined;
}
