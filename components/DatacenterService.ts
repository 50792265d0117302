import * as pulumi from "@pulumi/pulumi";
import type { PlannedReplica, PlannedService } from "./plan";
import type { DatacenterTarget, NetworkHandle } from "./targets/target";

export interface DatacenterServiceArgs {
  /** The planned service (role, networks, settings). */
  readonly service: PlannedService;
  /** Its replicas, already placed on hosts. */
  readonly replicas: readonly PlannedReplica[];
  readonly target: DatacenterTarget;
  readonly networks: ReadonlyMap<string, NetworkHandle>;
}

/** One service: a role and its replicas, each a server on a host. */
export class DatacenterService extends pulumi.ComponentResource {
  readonly role: pulumi.Output<string>;
  /** `replica/port` → `address:port` for ports published outside the datacenter. */
  readonly endpoints: pulumi.Output<Record<string, string>>;
  /** Whether the target could deploy the replicas (false while the role has no image). */
  readonly deployed: pulumi.Output<boolean>;

  constructor(name: string, args: DatacenterServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("serverpark:datacenter:Service", name, {}, opts);
    const endpoints: Record<string, string> = {};
    let deployed = true;
    for (const replica of args.replicas) {
      const handle = args.target.replica({ name: `${name}-${replica.index}`, parent: this }, replica, args.service, args.networks);
      if (!handle) deployed = false;
      else Object.assign(endpoints, handle.endpoints);
    }
    this.role = pulumi.output(args.service.role);
    this.endpoints = pulumi.output(endpoints);
    this.deployed = pulumi.output(deployed);
    this.registerOutputs({ role: this.role, endpoints: this.endpoints, deployed: this.deployed });
  }
}
