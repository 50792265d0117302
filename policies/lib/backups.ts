/**
 * Where a stateful replica's backups actually go, read from the deployed resources rather
 * than the declaration (`services[].backup.targetHost`): the container's `SP_BACKUP_DIR`
 * (without it each role writes its backups into its own data directory), what is mounted
 * there, and which host keeps that: a Docker volume says so by its `serverpark.host` label
 * (the Docker target's one engine plays every host, as container labels place containers);
 * a path on the machine that runs the container (a bind mount, as a Hetzner server's units
 * use) is on the replica's own host, whatever the declaration says.
 */
import type { PolicyResource } from "@pulumi/policy";
import { ROLE_INFO } from "../../contracts/roles";
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
    if (mount.bind) return [{ ...at(`writes its backups to ${mount.source} on the disk of ${replica.host}, the host that runs it`), keeper: replica.host }];
    if (mount.source === "") return []; // a volume named during the update: nothing to judge yet
    const labels = volumes.get(mount.source);
    if (!labels) return [at(`writes its backups to volume ${mount.source}, which is not a resource of this stack: nothing records where it lives`)];
    if (!labels.host) return [at(`writes its backups to volume ${mount.source}, which records no host that keeps it (label serverpark.host)`)];
    return [{ replica, container, keeper: labels.host }];
  });
}
