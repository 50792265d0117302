import * as pulumi from "@pulumi/pulumi";
import { BACKUP_CLIENT_TLS_PATHS } from "../contracts/backups";
import { SITES_CLIENT_TLS_PATHS } from "../contracts/sites";
import { MANAGEMENT_CALLERS, type ManagementCaller } from "../contracts/management";
import { MANAGEMENT_CLIENT_TLS_PATHS, TLS_PATHS } from "../contracts/paths";
import { DatacenterPki } from "./DatacenterPki";
import { backupStoreOf, launchFile, replicaLaunch, type LaunchFile } from "./model/launch";
import type { DatacenterPlan, PlannedReplica, PlannedService } from "./plan";
import { ROLE_HOOKS } from "./roles";
import type { ReplicaFile } from "./roles/types";
import type { DatacenterSpec } from "./spec/schema";
import type { HostedReplica, ReplicaHandle } from "./targets/target";

export interface DatacenterServiceArgs {
  /** The planned service (role, networks, settings). */
  readonly service: PlannedService;
  /** Its replicas, already placed on hosts (an HA db group's monitor last). */
  readonly replicas: readonly PlannedReplica[];
  /** Issues the service's TLS certificate. */
  readonly pki: DatacenterPki;
  readonly spec: DatacenterSpec;
  readonly plan: DatacenterPlan;
  /** The datacenter's resolvers (components/model/launch.ts datacenterResolvers). */
  readonly resolvers: readonly string[];
  /** Web replicas pull customers' sites from the file service (contracts/sites.ts): they get a sites client certificate. */
  readonly pullSites?: boolean;
}

/**
 * One service: a role and its replicas, each a server on a host. The service builds its
 * replicas' launch descriptions (its certificate, the role's files); the hosts run them, and
 * `settle` reports back which ran.
 */
export class DatacenterService extends pulumi.ComponentResource {
  readonly role: pulumi.Output<string>;
  /** `replica/port` → `address:port` for ports published outside the datacenter. */
  readonly endpoints: pulumi.Output<Record<string, string>>;
  /** Whether the target could deploy the replicas (false while the role has no image). */
  readonly deployed: pulumi.Output<boolean>;
  /** The replicas to hand to their hosts. */
  readonly hosted: readonly HostedReplica[];
  private settled!: (handles: ReadonlyMap<string, ReplicaHandle>) => void;

  constructor(name: string, args: DatacenterServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("serverpark:datacenter:Service", name, {}, opts);
    const files = this.replicaFiles(name, args);
    this.hosted = args.replicas.map((replica) => ({
      launch: replicaLaunch(
        args.plan,
        replica,
        args.service,
        [
          ...files.filter((f) => !f.part || f.part === (replica.part === "monitor" ? "monitor" : "data")).map((f) => f.file),
          ...this.backupClientFiles(name, replica, args),
          ...this.sitesClientFiles(name, replica, args),
        ],
        args.resolvers,
      ),
      scope: { name: `${name}-${replica.part ?? replica.index}`, parent: this },
    }));
    const result = new Promise<{ endpoints: Record<string, string>; deployed: boolean }>((resolve) => {
      this.settled = (handles) => {
        const endpoints: Record<string, string> = {};
        for (const r of args.replicas) Object.assign(endpoints, handles.get(r.id)?.endpoints ?? {});
        resolve({ endpoints, deployed: args.replicas.every((r) => handles.has(r.id)) });
      };
    });
    this.role = pulumi.output(args.service.role);
    this.endpoints = pulumi.output(result.then((r) => r.endpoints));
    this.deployed = pulumi.output(result.then((r) => r.deployed));
    this.registerOutputs({ role: this.role, endpoints: this.endpoints, deployed: this.deployed });
  }

  /** Called once the hosts ran the replicas: their handles, by replica id. */
  settle(handles: ReadonlyMap<string, ReplicaHandle>): void {
    this.settled(handles);
  }

  /**
   * A replica that ships its backups to its target host's store gets its own client certificate
   * naming it (contracts/backups.ts): what one replica holds opens no other service's copies.
   */
  private backupClientFiles(name: string, replica: PlannedReplica, args: DatacenterServiceArgs): LaunchFile[] {
    if (!backupStoreOf(args.plan, replica, args.service)) return [];
    const cert = args.pki.backupClient(`${name}-${replica.part ?? replica.index}-backup`, { service: args.service.id, replica: replica.id }, this);
    return [launchFile(BACKUP_CLIENT_TLS_PATHS.cert, cert.certPem), launchFile(BACKUP_CLIENT_TLS_PATHS.key, cert.keyPem, true)];
  }

  /**
   * A web replica serving hosting customers, where it pulls their sites from the file service,
   * gets its own sites client certificate (contracts/sites.ts): the file replicas' management
   * port lets it read the published sites and nothing else.
   */
  private sitesClientFiles(name: string, replica: PlannedReplica, args: DatacenterServiceArgs): LaunchFile[] {
    if (!args.pullSites || args.service.role !== "web" || !(args.plan.customers ?? []).some((c) => c.site.webService === args.service.id)) return [];
    const cert = args.pki.sitesClient(`${name}-${replica.index}-sites`, `${args.service.id}/${replica.id}`, this);
    return [launchFile(SITES_CLIENT_TLS_PATHS.cert, cert.certPem), launchFile(SITES_CLIENT_TLS_PATHS.key, cert.keyPem, true)];
  }

  /** TLS material and the role's own files, shared by every replica of the service (or one part's: ReplicaFile.part). */
  private replicaFiles(name: string, args: DatacenterServiceArgs): { file: LaunchFile; part?: ReplicaFile["part"] }[] {
    const hooks = ROLE_HOOKS[args.service.role];
    const cert = args.pki.certificateFor(name, args.service, this, hooks.certificateNames?.(args.service, args.plan) ?? []);
    // A role that is also a management caller (the NOC) gets its client certificate
    // (contracts/management.ts); every other replica can call no management port.
    const caller = MANAGEMENT_CALLERS.find((c): c is ManagementCaller => c === args.service.role);
    const client = caller ? args.pki.managementClient(`${name}-management`, caller, this) : undefined;
    const common = [
      launchFile(TLS_PATHS.cert, cert.certPem),
      launchFile(TLS_PATHS.key, cert.keyPem, true),
      launchFile(TLS_PATHS.ca, cert.caPem),
      ...(client ? [launchFile(MANAGEMENT_CLIENT_TLS_PATHS.cert, client.certPem), launchFile(MANAGEMENT_CLIENT_TLS_PATHS.key, client.keyPem, true)] : []),
    ];
    const own = hooks.files?.({ name, parent: this, service: args.service, plan: args.plan, spec: args.spec }) ?? [];
    return [...common.map((file) => ({ file })), ...own.map((f) => ({ file: launchFile(f.path, f.content, f.secret === true), part: f.part }))];
  }
}
