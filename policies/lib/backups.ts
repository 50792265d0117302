/**
 * Where a stateful replica's backups actually go, read from the deployed resources rather
 * than the declaration (`services[].backup.targetHost`).
 *
 * The local copies: the container's `SP_BACKUP_DIR` (without it each role writes its backups
 * into its own data directory) must be a volume or path of its own, apart from the data.
 *
 * The copy that leaves the host (contracts/backups.ts): the container must be told the store
 * of its declared target's agent (`SP_BACKUP_STORE_URL` at an address of that host, and
 * `SP_BACKUP_STORE_HOST`), hold a backup client certificate to reach it, and the target's
 * agent must keep a store for the service (`SP_BACKUP_CLIENTS`) on a volume or path of its own.
 * That host is where the backups live apart from the replica: the `keeper` the rule judges.
 */
import type { PolicyResource } from "@pulumi/policy";
import { BACKUP_CLIENT_TLS_PATHS, BACKUP_ENV, BACKUP_STORE_PATH, backupClientsSchema } from "../../contracts/backups";
import { MANAGEMENT_PORT, ROLE_INFO } from "../../contracts/roles";
import type { PlannedReplica, PlannedService } from "../../components/plan/types";
import { containersOf, COPY_TO_REMOTE, unitPathOf, type ContainerView } from "./containers";
import { serverparkLabels, TYPES, type DatacenterModel } from "./resources";
import { UNKNOWN, unproxied } from "./settings";

/** One replica's deployed backups: where they land, or why that is wrong. */
export interface DeployedBackup {
  readonly replica: PlannedReplica;
  /** Undefined when the stack deploys containers but this replica's is not among those the pack reads. */
  readonly container?: ContainerView;
  /** The host that keeps the copy, when the resources say. */
  readonly keeper?: string;
  /** What is wrong with where the backups land (undefined: they land on `keeper`, off the data). */
  readonly problem?: string;
}

const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir.replace(/\/+$/, "")}/`);

/**
 * Where each replica of `service` deploys its backups, judged from `resources`. A replica on a
 * Hetzner server whose user data does not start it is a problem too (the pack cannot see where
 * its backups go); one on a server whose user data is unknown (a preview) makes the calling
 * policy "can't run during preview". A replica without a Docker container or a server gives
 * nothing (a stack of the model alone, in the policy tests of the declaration).
 */
export async function deployedBackups(model: DatacenterModel, service: PlannedService, resources: readonly PolicyResource[]): Promise<DeployedBackup[]> {
  const containers = (await Promise.all(resources.map((r) => containersOf(r)))).flatMap((c) => c ?? []).filter((c) => c.env.SP_DATACENTER === model.spec.name);
  const volumes = new Map(
    resources
      .filter((r) => r.type === TYPES.volume)
      .flatMap((r) => {
        const name = (unproxied(r.props) as { name?: unknown }).name;
        return typeof name === "string" && name !== UNKNOWN ? [[name, serverparkLabels(unproxied(r.props))] as const] : [];
      }),
  );
  const dataPath = ROLE_INFO[service.role].dataPath;
  // The Hetzner server of each host (its labels name the host).
  const servers = new Map(resources.filter((r) => r.type === TYPES.hcloudServer).map((r) => [serverparkLabels(unproxied(r.props)).host, r] as const));
  return service.replicas.flatMap((id) => {
    const replica = model.plan.replicas.find((r) => r.id === id)!;
    const container = containers.find((c) => c.env.SP_REPLICA === id);
    if (!container) {
      // A server whose user data is computed (during a preview) hides its containers: read it
      // through CrossGuard's proxy, which turns this policy into "can't run during preview"
      // (decided on `pulumi up`) rather than a pass on the declaration alone.
      const server = servers.get(replica.host);
      if (server && (unproxied(server.props) as { userData?: unknown }).userData === UNKNOWN) void (server.props as { userData?: unknown }).userData;
      // A unit copied over SSH whose text is not known yet (a preview) likewise.
      const unit = resources.find((r) => r.type === COPY_TO_REMOTE && (unproxied(r.props) as { remotePath?: unknown }).remotePath === unitPathOf(id));
      if (unit) void (unit.props as { source?: { text?: unknown } }).source?.text;
      // On a server whose start-up the pack reads, yet not among its containers: deployed in a
      // form this pack does not read, which is no evidence of where the backups go.
      return server
        ? [
            {
              replica,
              problem:
                "runs in no container this policy pack can read (Docker containers, Hetzner units copied to the server or in its user data): where its backups go is not checked",
            },
          ]
        : [];
    }
    const target = service.backup?.targetHost;
    const at = (problem: string): DeployedBackup => ({ replica, container, problem: `${problem}${target ? `, not to its backup target ${target}` : ""}` });
    const dir = container.env.SP_BACKUP_DIR;
    if (dir === undefined || dir === "")
      return [
        at(
          `is started without SP_BACKUP_DIR, so ${service.role} writes its backups into its data directory${dataPath ? ` ${dataPath}` : ""}: onto the data volume they protect`,
        ),
      ];
    if (dataPath && within(dir, dataPath))
      return [at(`writes its backups to SP_BACKUP_DIR=${dir}, inside its data directory ${dataPath}: onto the data volume they protect`)];
    const mount = container.mounts.find((m) => m.target === dir);
    if (!mount)
      return [at(`writes its backups to SP_BACKUP_DIR=${dir}, which is no volume of its own: they stay in the container's filesystem and go with it`)];
    const data = dataPath ? container.mounts.find((m) => m.target === dataPath) : undefined;
    if (data && mount.source !== "" && mount.source === data.source)
      return [
        at(
          `mounts the same ${mount.bind ? "path" : "volume"} (${mount.source}) at SP_BACKUP_DIR=${dir} as at its data directory: the backups share the data's volume`,
        ),
      ];
    if (!mount.bind && mount.source !== "" && !volumes.has(mount.source))
      return [at(`writes its backups to volume ${mount.source}, which is not a resource of this stack: nothing records where it lives`)];
    return [shipped(model, service, replica, container, containers, volumes, at)];
  });
}

/**
 * Whether the replica ships its copies to the store of its declared target's agent, and that
 * agent keeps one for the service: the deployed backup with that host as keeper, or the problem.
 */
function shipped(
  model: DatacenterModel,
  service: PlannedService,
  replica: PlannedReplica,
  container: ContainerView,
  containers: readonly ContainerView[],
  volumes: ReadonlyMap<string, Record<string, string>>,
  at: (problem: string) => DeployedBackup,
): DeployedBackup {
  const url = container.env[BACKUP_ENV.storeUrl];
  const only = `keeps its backups on its own host ${replica.host} only`;
  if (!url) return { ...at(`${only}: it is started without ${BACKUP_ENV.storeUrl}, so no copy leaves the host`), keeper: replica.host };
  let address: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "https:" || Number(parsed.port) !== MANAGEMENT_PORT) throw new Error("not the agent's management port");
    address = parsed.hostname;
  } catch {
    return at(`is told to ship its backups to ${BACKUP_ENV.storeUrl}=${url}, which is no host agent's backup store (https on port ${MANAGEMENT_PORT})`);
  }
  const host = model.plan.hosts.find((h) => Object.values(h.addresses).includes(address));
  if (!host) return at(`ships its backups to ${address}, which is no host of this datacenter`);
  if (host.id === replica.host) return { ...at(`${only}: ${BACKUP_ENV.storeUrl}=${url} is its own host's agent`), keeper: replica.host };
  if (container.env[BACKUP_ENV.storeHost] !== host.id)
    return at(`ships its backups to ${host.id} (${address}) but is told ${BACKUP_ENV.storeHost}=${container.env[BACKUP_ENV.storeHost] ?? "(none)"}`);
  const target = service.backup?.targetHost;
  if (target !== undefined && host.id !== target) return { replica, container, keeper: host.id };
  if (!container.files.includes(BACKUP_CLIENT_TLS_PATHS.cert) || !container.files.includes(BACKUP_CLIENT_TLS_PATHS.key))
    return at(`has no backup client certificate (${BACKUP_CLIENT_TLS_PATHS.cert}), so the store on ${host.id} admits none of its copies`);
  const agent = containers.find((c) => c.env.SP_HOST_ID === host.id && c.env.SP_REPLICA === undefined);
  if (!agent) return at(`ships its backups to ${host.id}, whose agent is no container this policy pack can read: where they land is not checked`);
  let declared: unknown;
  try {
    declared = JSON.parse(agent.env[BACKUP_ENV.clients] ?? "[]");
  } catch {
    declared = undefined;
  }
  const clients = backupClientsSchema.safeParse(declared);
  if (!clients.success || !clients.data.some((c) => c.service === service.id))
    return at(`ships its backups to ${host.id}, whose agent (${agent.who}) keeps no store for service ${service.id} (${BACKUP_ENV.clients})`);
  const store = agent.mounts.find((m) => m.target === BACKUP_STORE_PATH);
  if (!store)
    return at(`ships its backups to ${host.id}, whose agent (${agent.who}) has no volume of its own at ${BACKUP_STORE_PATH}: the copies go with its container`);
  const storeHost = store.bind || store.source === "" ? host.id : volumes.get(store.source)?.host;
  if (storeHost !== host.id)
    return at(
      `ships its backups to ${host.id}, whose store volume ${store.source} records ${storeHost ? `host ${storeHost}` : "no host that keeps it (label serverpark.host)"}`,
    );
  return { replica, container, keeper: host.id };
}
