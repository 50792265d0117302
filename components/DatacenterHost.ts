import * as pulumi from "@pulumi/pulumi";
import type { PlannedHost } from "./plan";
import type { DatacenterTarget, NetworkHandle } from "./targets/target";

export interface DatacenterHostArgs {
  /** The planned host: rack, power supplies, capacity, management addresses. */
  readonly host: PlannedHost;
  readonly target: DatacenterTarget;
  /** Networks by id, for attaching the host's agent. */
  readonly networks: ReadonlyMap<string, NetworkHandle>;
}

/** One physical host: hardware in a rack, fed by one or two PSUs. */
export class DatacenterHost extends pulumi.ComponentResource {
  readonly rack: pulumi.Output<string>;
  readonly feeds: pulumi.Output<string[]>;

  constructor(name: string, args: DatacenterHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("serverpark:datacenter:Host", name, {}, opts);
    args.target.host({ name, parent: this }, args.host, args.networks);
    this.rack = pulumi.output(args.host.rack);
    this.feeds = pulumi.output([...args.host.feeds]);
    this.registerOutputs({ rack: this.rack, feeds: this.feeds });
  }
}
