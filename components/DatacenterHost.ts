import * as pulumi from "@pulumi/pulumi";
import type { AgentLaunch } from "./model/launch";
import type { DatacenterTarget, HostedReplica, NetworkHandle, ReplicaHandle } from "./targets/target";

export interface DatacenterHostArgs {
  /** The host's agent (the planned host: rack, power supplies, capacity, management addresses). */
  readonly agent: AgentLaunch;
  /** The replicas placed on the host, in the plan's order. */
  readonly replicas: readonly HostedReplica[];
  readonly target: DatacenterTarget;
  /** Networks by id, for attaching the agent and the replicas. */
  readonly networks: ReadonlyMap<string, NetworkHandle>;
}

/** One physical host: hardware in a rack, fed by one or two PSUs, running its replicas. */
export class DatacenterHost extends pulumi.ComponentResource {
  readonly rack: pulumi.Output<string>;
  readonly feeds: pulumi.Output<string[]>;
  /** Replica id → handle, for the replicas the target could run. */
  readonly handles: ReadonlyMap<string, ReplicaHandle>;

  constructor(name: string, args: DatacenterHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("serverpark:datacenter:Host", name, {}, opts);
    this.handles = args.target.host({ name, parent: this }, args.agent, args.replicas, args.networks);
    this.rack = pulumi.output(args.agent.host.rack);
    this.feeds = pulumi.output([...args.agent.host.feeds]);
    this.registerOutputs({ rack: this.rack, feeds: this.feeds });
  }
}
