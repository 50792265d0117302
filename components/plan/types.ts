/**
 * The plan: everything the targets need to create a datacenter, computed from the spec by a
 * pure function. Targets never re-derive placement or addresses; they read them from here.
 */
import type { Exposure, HostKind } from "../spec/schema";
import type { Protocol, Publish, Role, RolePort } from "../../contracts/roles";
import type { ConfigPath } from "../spec/issues";
import type { DnsZone } from "../../contracts/dns";
import type { AnyRoleSettings } from "../spec/roleSettings";

export type { DnsRecord, DnsRecordData, DnsZone } from "../../contracts/dns";

/**
 * What the previous plan decided, fed back in so that adding hosts or services never moves
 * an existing replica or address. It is written next to the stack config
 * (`stacks/Pulumi.<stack>.lock.json`, with the Docker target's host ports: components/plan/lock.ts)
 * and committed.
 */
export interface PlanLock {
  readonly version: 1;
  /** replica id → host id */
  readonly placement: Readonly<Record<string, string>>;
  /** network id → member key (`host:h1`, `replica:www-0`) → IPv4 address */
  readonly addresses: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface Resources {
  readonly cpus: number;
  readonly memoryGb: number;
  readonly diskGb: number;
}

export interface PlannedPsu {
  readonly pdu: string;
  readonly feed: string;
}

export interface PlannedHost {
  readonly id: string;
  readonly rack: string;
  readonly kind: HostKind;
  readonly psus: readonly PlannedPsu[];
  /** Distinct feeds the host draws from, sorted. */
  readonly feeds: readonly string[];
  readonly capacity: Resources;
  /** What the replicas on this host were promised (vCPUs may exceed cores on virtualization hosts). */
  readonly allocated: Resources;
  /** The most vCPUs this host may promise (cores × overcommit on virtualization hosts). */
  readonly cpuLimit: number;
  readonly powerWatts: number;
  /** Replica ids placed here, in placement order. */
  readonly replicas: readonly string[];
  /** network id → address of the host's agent (management networks only). */
  readonly addresses: Readonly<Record<string, string>>;
}

/** A port published outside the datacenter: to whom, not how (each target decides where it binds). */
export interface PublishedPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly audience: Exclude<Publish, "none">;
  /** Published under its own number (contracts/roles.ts `sameNumberOutside`): FTP passive ports. */
  readonly sameNumber?: true;
}

export interface PlannedReplica {
  /** `<service>-<index>`, e.g. `www-0`; an HA group's monitor is `<service>-monitor` (./ha.ts). */
  readonly id: string;
  /**
   * `monitor`: the pg_auto_failover monitor of an HA db group (./ha.ts), not one of its
   * service's `replicas`; absent for every replica that serves the service's clients.
   */
  readonly part?: "monitor";
  readonly service: string;
  readonly role: Role;
  readonly index: number;
  readonly host: string;
  readonly rack: string;
  readonly feeds: readonly string[];
  readonly resources: Resources;
  /** network id → address, for every network the replica is attached to. */
  readonly addresses: Readonly<Record<string, string>>;
  /** Address its management port (/healthz, /metrics) listens on. */
  readonly managementAddress?: string;
  readonly published: readonly PublishedPort[];
}

export interface PlannedService {
  readonly id: string;
  readonly role: Role;
  readonly plan: string;
  readonly minReplicas: number;
  readonly redundant: boolean;
  readonly stateful: boolean;
  /** Networks the replicas are attached to (declared ones, then management). */
  readonly networks: readonly string[];
  readonly replicas: readonly string[];
  readonly ports: readonly RolePort[];
  /** The stack's `settings` as written (what the diff and the policies judge, and what the servers parse). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** The same parsed by the role's schema during validation; read it with settingsOf (components/spec/roleSettings.ts). */
  readonly roleSettings?: AnyRoleSettings;
  readonly backup?: { readonly schedule: string; readonly retentionDays: number; readonly targetHost?: string; readonly quotaGb?: number };
  /** A highly available db (./ha.ts): `replicas` are its data nodes, `monitor` the id of its monitor replica. */
  readonly ha?: { readonly monitor: string };
}

export interface PlannedNetwork {
  readonly id: string;
  readonly cidr: string;
  readonly exposure: Exposure;
  readonly gateway: string;
  /** Sorted by address. */
  readonly members: readonly { readonly key: string; readonly address: string }[];
}

export interface ExposureEntry {
  readonly service: string;
  readonly port: string;
  readonly number: number;
  readonly protocol: Protocol;
  /** Networks from which the port can be reached. */
  readonly reachableFrom: readonly string[];
  /** Who outside the datacenter can reach it: nobody, operators (127.0.0.1 / admin CIDRs), or the internet. */
  readonly publishedTo: Publish;
}

export interface PlanNote {
  readonly path: ConfigPath;
  readonly message: string;
}

/** A hosting customer (components/plan/customers.ts): what they bought and where their site is served. */
export interface PlannedCustomer {
  readonly id: string;
  readonly plan: string;
  /** The plan's disk quota for all the customer's files, in bytes. */
  readonly quotaBytes: number;
  readonly domains: readonly string[];
  readonly fileAccounts: readonly { readonly name: string; readonly password: boolean; readonly sshKeys: readonly string[] }[];
  readonly mailboxes: readonly { readonly address: string; readonly quotaBytes: number }[];
  /** The site: `<folder>` of `account` on the file service, served by the web service through the proxy for `names`. */
  readonly site: {
    readonly account: string;
    readonly folder: string;
    readonly fileService: string;
    readonly webService: string;
    readonly proxyService: string;
    /** Each domain and its `www.` name. */
    readonly names: readonly string[];
    /** Set when the proxy orders the names' certificate from the plan's ACME CA (`acme`); absent: the datacenter CA's. */
    readonly acme?: true;
  };
  readonly mailService?: string;
}

export interface PlannedAcme {
  readonly directoryUrl: string;
  readonly email: string;
  readonly caBundle?: string;
  readonly renewAfter: number;
  readonly maxOrdersInFlight: number;
}

export interface DatacenterPlan {
  readonly datacenter: string;
  readonly domain: string;
  readonly hosts: readonly PlannedHost[];
  readonly networks: readonly PlannedNetwork[];
  readonly services: readonly PlannedService[];
  readonly replicas: readonly PlannedReplica[];
  /** The datacenter's zones (forward, then reverse), then one per customer domain. */
  readonly zones: readonly DnsZone[];
  /** Hosting customers; absent when the spec has none. */
  readonly customers?: readonly PlannedCustomer[];
  /** The ACME CA customers' certificates are ordered from (the spec's `certificates.acme`); absent when no customer uses one. */
  readonly acme?: PlannedAcme;
  readonly exposure: readonly ExposureEntry[];
  /** Things the user should know, e.g. a locked replica that had to move. */
  readonly notes: readonly PlanNote[];
  /** The lock to store for the next run. */
  readonly lock: PlanLock;
}
