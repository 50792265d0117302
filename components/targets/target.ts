/**
 * The seam between the model and a place to run it. The `Datacenter` component walks the
 * plan and asks its target for the resources of each network and of each host with its
 * replicas; the target decides what those are (Docker networks and containers, or Hetzner
 * servers). Targets never re-plan, and never re-derive what a container gets: placement and
 * addresses come from the plan, env, files, volumes and health check from the launch
 * descriptions (components/model/launch.ts), which a target only translates.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { AgentLaunch, ReplicaLaunch } from "../model/launch";
import type { DatacenterPlan, PlannedNetwork } from "../plan";
import type { DatacenterSpec } from "../spec/schema";

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

/** A replica to run on a host: its launch description and where its resources go (its service). */
export interface HostedReplica {
  readonly launch: ReplicaLaunch;
  readonly scope: TargetScope;
}

export interface DatacenterTarget {
  readonly kind: "docker" | "hetzner";
  /** Resources shared by the whole datacenter (images, certificate authority, …). */
  setup(scope: TargetScope, spec: DatacenterSpec, plan: DatacenterPlan): void;
  /** Whether the target has an image for `image` (a role or the host agent); call after setup. */
  runs(image: string): boolean;
  network(scope: TargetScope, network: PlannedNetwork): NetworkHandle;
  /**
   * Creates one host: its agent and its replicas (in the plan's order). A replica's files
   * must be placed at their paths, secrets kept secret. Returns a handle per replica it ran;
   * a replica whose role has no image yet gets none (the target says why with pulumi.log).
   */
  host(
    scope: TargetScope,
    agent: AgentLaunch,
    replicas: readonly HostedReplica[],
    networks: ReadonlyMap<string, NetworkHandle>,
  ): ReadonlyMap<string, ReplicaHandle>;
}
