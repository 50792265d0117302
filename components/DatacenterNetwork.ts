import * as pulumi from "@pulumi/pulumi";
import type { PlannedNetwork } from "./plan";
import type { DatacenterTarget, NetworkHandle } from "./targets/target";

export interface DatacenterNetworkArgs {
  /** The planned network (CIDR, exposure, members). */
  readonly network: PlannedNetwork;
  /** The target that creates the network's resources. */
  readonly target: DatacenterTarget;
}

/** One network of the datacenter (internet, internal or management). */
export class DatacenterNetwork extends pulumi.ComponentResource {
  readonly handle: NetworkHandle;
  readonly cidr: pulumi.Output<string>;

  constructor(name: string, args: DatacenterNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("serverpark:datacenter:Network", name, {}, opts);
    this.handle = args.target.network({ name, parent: this }, args.network);
    this.cidr = pulumi.output(args.network.cidr);
    this.registerOutputs({ cidr: this.cidr });
  }
}
