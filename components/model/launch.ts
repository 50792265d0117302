/**
 * Launch descriptions: what a container needs to start, built once from the plan and the
 * role hooks, and translated mechanically by every target (the Docker target into
 * `docker.Container` arguments, the Hetzner target into its server's cloud-init units). A
 * target adds only how it binds: Docker's bridge networks and loopback host ports
 * (components/targets/docker/hostPorts.ts), Hetzner's per-address port publishing and volumes.
 *
 * Differences the targets keep on purpose (test/hetzner/launch-parity.test.ts asserts the
 * rest is identical for every replica: env, files, health check):
 * - file modes: Hetzner writes each file owned by the service user with `mode`; Docker's
 *   uploads are root's, so the Docker target leaves them world-readable (the container runs
 *   one user, and its uploads never leave the engine).
 * - `SP_MGMT_ADDRESS`: the planned address on Docker (the container holds it); `0.0.0.0` on
 *   Hetzner, where the unit publishes the port on the planned address from outside the container.
 * - FTP's passive ports: Hetzner publishes the catalogue's numbers; Docker moves them onto host
 *   ports of the stack's own and adds `SP_FILE_FTP_PASSIVE_PORTS` to say so
 *   (components/targets/docker/hostPorts.ts).
 * - the backup volume: a Docker volume on Docker, a directory on the server's own disk on
 *   Hetzner (outside the data volume, so losing one does not lose the other). It holds the
 *   replica's local copies; each is also shipped off the host, over the management network, to
 *   the backup store of `backup.targetHost`'s agent (contracts/backups.ts), which keeps them on
 *   a volume (Docker) or directory (Hetzner) of its own.
 */
import type * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { BACKUP_ENV, BACKUP_STORE_PATH, type BackupClients } from "../../contracts/backups";
import { BACKUP_PATH, CUSTOMER_SITES_PATH, PROXY_ACME_PATH, ROLE_VIEW_PATH, RUNTIME_CONFIG_PATH } from "../../contracts/paths";
import { VIEW_FILE } from "../../contracts/runtimeConfig";
import { MANAGEMENT_PORT, ROLE_INFO, type Role } from "../../contracts/roles";
import type { DatacenterPlan, PlannedHost, PlannedReplica, PlannedService, PublishedPort } from "../plan";
import { proxyView } from "./proxyView";
import { replicaRuntimeConfig } from "./runtimeConfig";
import { storeView, type StoredView } from "./viewFiles";

/** The image every physical host runs: a small agent reporting identity and power state. */
export const HOST_AGENT = "host-agent";

interface LaunchFileBase {
  /** Absolute path inside the container. */
  readonly path: string;
  /** Keys, passwords: a Pulumi secret end to end. */
  readonly secret: boolean;
  /** Permissions for the service user: 0o400 for secrets, 0o444 otherwise. */
  readonly mode: number;
}

/**
 * A file of a container: its content, or (a role's view, ./viewFiles.ts) a file on the machine
 * running the program, named by its SHA-256, that the target delivers without putting the
 * bytes in a resource's inputs. Never a secret.
 */
export type LaunchFile = LaunchFileBase &
  ({ readonly content: pulumi.Input<string>; readonly source?: never } | { readonly source: StoredView; readonly content?: never });

/** A file's content, read from its source when it has one (for targets that must embed it). */
export function launchFileContent(f: LaunchFile): pulumi.Input<string> {
  return f.source ? readFileSync(f.source.path, "utf8") : f.content;
}

export interface LaunchVolume {
  /**
   * `data`: the role's state; `backup`: the replica's local copies of its backups (`SP_BACKUP_DIR`);
   * `backup-store`: a host agent's store of the copies shipped to it; `sites`: the hosting
   * customers' published sites, written by their file service and read by their web services
   * (one volume, named by `shared`, mounted by each); `state`: a stateless role's small state
   * (the proxy's ACME account and certificates): a Docker volume, a directory on a Hetzner server's disk.
   */
  readonly kind: "data" | "backup" | "backup-store" | "sites" | "state";
  readonly containerPath: string;
  /** The host that keeps it. */
  readonly keeper: string;
  /** A volume several replicas mount: its name within the datacenter (`sites`: `<file service>-sites`). */
  readonly shared?: string;
  /** The service that writes a shared volume (`sites`: the file service). */
  readonly owner?: { readonly service: string; readonly role: Role };
  readonly readOnly?: boolean;
}

export interface HealthCheck {
  /** argv run inside the container; healthy on exit 0. */
  readonly command: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

/** What every container's launch says; see ReplicaLaunch and AgentLaunch. */
export interface ContainerLaunch {
  /** The image: a role, or the host agent. */
  readonly image: Role | typeof HOST_AGENT;
  readonly hostname: string;
  /** DNS domain of the container, when it has one. */
  readonly domain?: string;
  /** Every `SP_*` variable the server reads. */
  readonly env: Readonly<Record<string, string>>;
  readonly files: readonly LaunchFile[];
  readonly volumes: readonly LaunchVolume[];
  readonly health: HealthCheck;
  /** Ports published outside the datacenter, as the plan states them. */
  readonly published: readonly PublishedPort[];
  /** Restarted whenever it exits, unless an operator stopped it. */
  readonly restart: "unless-stopped";
  readonly resources: { readonly cpus: number; readonly memoryGb: number };
  /** network id → planned address. */
  readonly addresses: Readonly<Record<string, string>>;
  /** The datacenter's own resolvers (its DNS replicas), empty when it has none running. */
  readonly resolvers: readonly string[];
}

export interface ReplicaLaunch extends ContainerLaunch {
  readonly kind: "replica";
  readonly replica: PlannedReplica;
  readonly service: PlannedService;
}

export interface AgentLaunch extends ContainerLaunch {
  readonly kind: "agent";
  readonly host: PlannedHost;
}

/** The image's own probe of its /healthz (the same in every image, images/dockerfiles.ts). */
export const HEALTH_CHECK: HealthCheck = {
  command: ["node", "/app/healthcheck.mjs"],
  intervalSeconds: 10,
  timeoutSeconds: 10,
  retries: 3,
  startPeriodSeconds: 20,
};

/** A file of a replica, with the mode its secrecy implies. */
export function launchFile(path: string, content: pulumi.Input<string>, secret = false): LaunchFile {
  return { path, content, secret, mode: secret ? 0o400 : 0o444 };
}

/** The internal addresses of the datacenter's DNS replicas, once the dns role runs. */
export function datacenterResolvers(plan: DatacenterPlan, dnsRuns: boolean): string[] {
  if (!dnsRuns) return [];
  const out: string[] = [];
  for (const r of plan.replicas.filter((x) => x.role === "dns")) {
    const internal = plan.networks.find((n) => n.exposure === "internal" && r.addresses[n.id]);
    if (internal) out.push(r.addresses[internal.id]!);
  }
  return out;
}

/**
 * One replica's launch: `files` are the service's TLS material and role files (the same for
 * every replica); the runtime config is added here.
 */
export function replicaLaunch(
  plan: DatacenterPlan,
  replica: PlannedReplica,
  service: PlannedService,
  files: readonly LaunchFile[],
  resolvers: readonly string[],
): ReplicaLaunch {
  const info = ROLE_INFO[service.role];
  const volumes: LaunchVolume[] = [];
  if (info.stateful && info.dataPath) volumes.push({ kind: "data", containerPath: info.dataPath, keeper: replica.host });
  // An HA db group's monitor holds the group's state only: it takes no backups.
  if (info.stateful && service.backup && replica.part !== "monitor") volumes.push({ kind: "backup", containerPath: BACKUP_PATH, keeper: replica.host });
  volumes.push(...sitesVolumes(plan, replica, service));
  // A proxy that orders customers' certificates from an ACME CA keeps its account key and the
  // certificates on a volume: a restart serves them at once instead of ordering again (CAs rate-limit).
  if (service.role === "proxy" && proxyView(plan, service).acme) volumes.push({ kind: "state", containerPath: PROXY_ACME_PATH, keeper: replica.host });
  const store = backupStoreOf(plan, replica, service);
  const env: Record<string, string> = {
    SP_DATACENTER: plan.datacenter,
    SP_SERVICE: service.id,
    SP_ROLE: service.role,
    SP_REPLICA: replica.id,
    SP_HOST: replica.host,
    SP_CONFIG: RUNTIME_CONFIG_PATH,
    SP_MGMT_PORT: String(MANAGEMENT_PORT),
    ...(replica.managementAddress ? { SP_MGMT_ADDRESS: replica.managementAddress } : {}),
    ...(volumes.some((v) => v.kind === "backup") ? { SP_BACKUP_DIR: BACKUP_PATH } : {}),
    ...(store ? { [BACKUP_ENV.storeUrl]: store.url, [BACKUP_ENV.storeHost]: store.host } : {}),
  };
  return {
    kind: "replica",
    replica,
    service,
    image: service.role,
    hostname: replica.id,
    domain: plan.domain,
    env,
    files: [...configFiles(plan, replica, service), ...files],
    volumes,
    health: HEALTH_CHECK,
    published: replica.published,
    restart: "unless-stopped",
    resources: { cpus: replica.resources.cpus, memoryGb: replica.resources.memoryGb },
    addresses: replica.addresses,
    resolvers,
  };
}

/**
 * The runtime config and, for a role with a view (proxy, NOC, dns, file, web or mail with customers), the view's file beside it:
 * the config names the file and its SHA-256 (contracts/runtimeConfig.ts).
 */
function configFiles(plan: DatacenterPlan, replica: PlannedReplica, service: PlannedService): LaunchFile[] {
  const { routes, acme, noc, zones, accounts, customerSites, mail, ...config } = replicaRuntimeConfig(plan, replica, service);
  const key = routes ?? noc ?? zones ?? accounts ?? customerSites ?? mail;
  if (!key) return [launchFile(RUNTIME_CONFIG_PATH, JSON.stringify(config))];
  const view = storeView(
    {
      ...(routes ? { routes } : {}),
      ...(acme ? { acme } : {}),
      ...(noc ? { noc } : {}),
      ...(zones ? { zones } : {}),
      ...(accounts ? { accounts } : {}),
      ...(customerSites ? { customerSites } : {}),
      ...(mail ? { mail } : {}),
    },
    key,
  );
  return [
    launchFile(RUNTIME_CONFIG_PATH, JSON.stringify({ ...config, view: { file: VIEW_FILE, sha256: view.sha256 } })),
    { path: ROLE_VIEW_PATH, source: view, secret: false, mode: 0o444 },
  ];
}

/**
 * Where a replica ships its backups (contracts/backups.ts): the backup store of its service's
 * `backup.targetHost`'s agent, on that agent's management address. None for a replica without
 * backups, one on its own target (the policy pack reports that), or a target with no management address.
 */
export function backupStoreOf(plan: DatacenterPlan, replica: PlannedReplica, service: PlannedService): { url: string; host: string } | undefined {
  const target = service.backup?.targetHost;
  if (!ROLE_INFO[service.role].stateful || !target || target === replica.host || replica.part === "monitor") return undefined;
  const host = plan.hosts.find((h) => h.id === target);
  const address = host ? agentManagementAddress(plan, host) : undefined;
  return address ? { url: `https://${address}:${MANAGEMENT_PORT}`, host: target } : undefined;
}

/** The services whose replicas ship their backups to `host`'s agent, with their retention. */
export function backupClientsOf(plan: DatacenterPlan, host: PlannedHost): BackupClients {
  return plan.services
    .filter((s) => s.backup?.targetHost === host.id && plan.replicas.some((r) => r.service === s.id && backupStoreOf(plan, r, s)))
    .map((s) => ({
      service: s.id,
      retentionDays: s.backup!.retentionDays,
      ...(s.backup!.quotaGb !== undefined ? { quotaBytes: Math.round(s.backup!.quotaGb * 1024 ** 3) } : {}),
    }));
}

/**
 * Hosting customers' sites: their file service writes them to a volume of its own and their
 * web services mount it read-only (images/file/src/sites.ts; only public_html is on it).
 */
function sitesVolumes(plan: DatacenterPlan, replica: PlannedReplica, service: PlannedService): LaunchVolume[] {
  const customers = plan.customers ?? [];
  if (service.role === "file" && customers.some((c) => c.site.fileService === service.id))
    return [
      { kind: "sites", containerPath: CUSTOMER_SITES_PATH, keeper: replica.host, shared: `${service.id}-sites`, owner: { service: service.id, role: "file" } },
    ];
  if (service.role !== "web") return [];
  const files = [...new Set(customers.filter((c) => c.site.webService === service.id).map((c) => c.site.fileService))];
  return files.map((f) => ({
    kind: "sites",
    containerPath: CUSTOMER_SITES_PATH,
    keeper: replica.host,
    shared: `${f}-sites`,
    owner: { service: f, role: "file" },
    readOnly: true,
  }));
}

/** The address a host's agent serves its management port on: its first management network's. */
export function agentManagementAddress(plan: DatacenterPlan, host: PlannedHost): string | undefined {
  const net = plan.networks.find((n) => n.exposure === "management" && host.addresses[n.id]);
  return net ? host.addresses[net.id] : undefined;
}

/**
 * A host's agent: identity and power state, on its management address over mutual TLS
 * (`files`: its certificate, key and the datacenter CA at TLS_PATHS).
 */
export function agentLaunch(plan: DatacenterPlan, host: PlannedHost, files: readonly LaunchFile[]): AgentLaunch {
  const managementAddress = agentManagementAddress(plan, host);
  const clients = backupClientsOf(plan, host);
  return {
    kind: "agent",
    host,
    image: HOST_AGENT,
    hostname: `host-${host.id}`,
    env: {
      SP_DATACENTER: plan.datacenter,
      SP_HOST_ID: host.id,
      SP_RACK: host.rack,
      SP_HOST_KIND: host.kind,
      SP_PSUS: JSON.stringify(host.psus),
      SP_MGMT_PORT: String(MANAGEMENT_PORT),
      ...(managementAddress ? { SP_MGMT_ADDRESS: managementAddress } : {}),
      ...(clients.length > 0 ? { [BACKUP_ENV.clients]: JSON.stringify(clients) } : {}),
    },
    files,
    // The copies other hosts' replicas ship here (contracts/backups.ts).
    volumes: clients.length > 0 ? [{ kind: "backup-store", containerPath: BACKUP_STORE_PATH, keeper: host.id }] : [],
    health: HEALTH_CHECK,
    published: [],
    restart: "unless-stopped",
    // 128 MB: the agent itself takes ~50 MB, and operators (and tests) `docker exec` node in it.
    resources: { cpus: 0.1, memoryGb: 0.125 },
    addresses: host.addresses,
    // The agent resolves nothing in the datacenter.
    resolvers: [],
  };
}
