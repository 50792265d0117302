/**
 * What runs on a Hetzner server, as plain values for `renderUnit` (units.ts): the host agent and each
 * replica, translated from their launch descriptions (components/model/launch.ts, the same the
 * Docker target translates), with every port bound to exactly the addresses the plan's
 * exposure matrix allows.
 */
import { MANAGEMENT_PORT } from "../../../contracts/roles";
import type { AgentLaunch, ReplicaLaunch } from "../../model/launch";
import type { DatacenterPlan, PlannedReplica } from "../../plan";
import { HOST_AGENT } from "../docker/images";
import { sitesPull } from "./sites";
import type { ServerContainer, ServerPort } from "./units";

/** What every container takes from its launch as is. */
function fromLaunch(launch: AgentLaunch | ReplicaLaunch): Pick<ServerContainer, "hostname" | "domain" | "env" | "cpus" | "memoryGb" | "health" | "resolvers"> {
  return {
    hostname: launch.hostname,
    ...(launch.domain ? { domain: launch.domain } : {}),
    // The planned management address is the server's (the unit publishes the port on it), not
    // the container's: inside its own namespace the container serves on every address, with
    // mutual TLS (images/runtime/management.ts). The one variable the targets set differently.
    env: launch.env.SP_MGMT_ADDRESS ? { ...launch.env, SP_MGMT_ADDRESS: "0.0.0.0" } : launch.env,
    cpus: launch.resources.cpus,
    memoryGb: launch.resources.memoryGb,
    health: launch.health,
    resolvers: launch.resolvers,
  };
}

/** Where the launch's files are mounted, and with which mode (their contents travel over SSH: deploy.ts). */
function mounts(launch: AgentLaunch | ReplicaLaunch): ServerContainer["files"] {
  return launch.files.map((f) => ({ path: f.path, mode: f.mode }));
}

/** The host agent: identity and health of the server, on its management addresses. */
export function agentContainer(launch: AgentLaunch, image: string): ServerContainer {
  const store = launch.volumes.find((v) => v.kind === "backup-store");
  return {
    id: HOST_AGENT,
    image,
    ...fromLaunch(launch),
    ports: Object.values(launch.addresses).map((address): ServerPort => ({ address, port: MANAGEMENT_PORT, protocol: "tcp" })),
    files: mounts(launch),
    // The agent reports about its own server; it has nothing to fetch from the internet.
    internet: false,
    // The backup store other servers' replicas ship to (contracts/backups.ts): a directory on this server's disk.
    ...(store ? { backup: { containerPath: store.containerPath } } : {}),
  };
}

/**
 * Ports of a replica: each role port on the replica's address of every network the exposure
 * matrix lists for it (the management port on the management address only), and each published
 * port on the server's public IPv4 but those reached through the load balancer only (`balanced`,
 * loadBalancer.ts `balancedPorts`).
 */
export function replicaPorts(plan: DatacenterPlan, replica: PlannedReplica, balanced: readonly number[] = []): ServerPort[] {
  const ports: ServerPort[] = [];
  for (const e of plan.exposure.filter((x) => x.service === replica.service)) {
    for (const net of e.reachableFrom) {
      const address = replica.addresses[net];
      if (address) ports.push({ address, port: e.number, protocol: e.protocol });
    }
  }
  for (const p of replica.published) {
    if (!(p.protocol === "tcp" && balanced.includes(p.port))) ports.push({ address: "public", port: p.port, protocol: p.protocol });
  }
  return ports;
}

/**
 * One replica's container. The data volume is mounted when the Hetzner volume exists; backups go to a directory on the
 * server's own disk (see components/model/launch.ts), and so do customers' sites, which web replicas pull (sites.ts).
 */
export function replicaContainer(
  plan: DatacenterPlan,
  launch: ReplicaLaunch,
  image: string,
  hasVolume: boolean,
  balanced: readonly number[] = [],
): ServerContainer {
  const data = launch.volumes.find((v) => v.kind === "data");
  const backup = launch.volumes.find((v) => v.kind === "backup");
  const state = launch.volumes.find((v) => v.kind === "state");
  const pull = sitesPull(plan, launch);
  const base = fromLaunch(launch);
  return {
    id: launch.replica.id,
    image,
    ...base,
    ...(pull ? { env: { ...base.env, ...pull.env }, sites: pull.sites } : {}),
    ports: replicaPorts(plan, launch.replica, balanced),
    files: mounts(launch),
    // The local target's rule: only a container on a network facing the internet has a way out.
    internet: plan.networks.some((n) => n.exposure === "internet" && launch.replica.addresses[n.id] !== undefined),
    ...(hasVolume && data ? { volume: { containerPath: data.containerPath } } : {}),
    ...(backup ? { backup: { containerPath: backup.containerPath } } : {}),
    ...(state ? { state: { containerPath: state.containerPath } } : {}),
  };
}
