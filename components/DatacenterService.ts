import * as pulumi from "@pulumi/pulumi";
import { TLS_PATHS } from "../contracts/paths";
import { DatacenterPki } from "./DatacenterPki";
import type { DatacenterPlan, PlannedReplica, PlannedService } from "./plan";
import { ROLE_HOOKS, type ReplicaFile } from "./roles";
import type { DatacenterSpec } from "./spec/schema";
import type { DatacenterTarget, NetworkHandle } from "./targets/target";

export interface DatacenterServiceArgs {
  /** The planned service (role, networks, settings). */
  readonly service: PlannedService;
  /** Its replicas, already placed on hosts. */
  readonly replicas: readonly PlannedReplica[];
  readonly target: DatacenterTarget;
  readonly networks: ReadonlyMap<string, NetworkHandle>;
  /** Issues the service's TLS certificate. */
  readonly pki: DatacenterPki;
  readonly spec: DatacenterSpec;
  readonly plan: DatacenterPlan;
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
    const files = this.replicaFiles(name, args);
    const endpoints: Record<string, string> = {};
    let deployed = true;
    for (const replica of args.replicas) {
      const handle = args.target.replica({ name: `${name}-${replica.index}`, parent: this }, replica, args.service, args.networks, files);
      if (!handle) deployed = false;
      else Object.assign(endpoints, handle.endpoints);
    }
    this.role = pulumi.output(args.service.role);
    this.endpoints = pulumi.output(endpoints);
    this.deployed = pulumi.output(deployed);
    this.registerOutputs({ role: this.role, endpoints: this.endpoints, deployed: this.deployed });
  }

  /** TLS material and the role's own files, shared by every replica of the service. */
  private replicaFiles(name: string, args: DatacenterServiceArgs): ReplicaFile[] {
    const hooks = ROLE_HOOKS[args.service.role];
    const cert = args.pki.certificateFor(name, args.service, this, hooks.certificateNames?.(args.service, args.plan) ?? []);
    return [
      { path: TLS_PATHS.cert, content: cert.certPem },
      { path: TLS_PATHS.key, content: cert.keyPem, secret: true },
      { path: TLS_PATHS.ca, content: cert.caPem },
      ...(hooks.files?.({ name, parent: this, service: args.service, plan: args.plan, spec: args.spec }) ?? []),
    ];
  }
}
