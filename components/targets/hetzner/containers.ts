/**
 * What runs on a Hetzner server, as plain values for `renderCloudInit`: the host agent and each
 * replica, with the same environment, limits and runtime config as the Docker target gives
 * them, and every port bound to exactly the addresses the plan's exposure matrix allows.
 */
import { MANAGEMENT_PORT, ROLE_INFO } from "../../../contracts/roles";
import { RUNTIME_CONFIG_PATH } from "../../../contracts/paths";
import { replicaRuntimeConfig } from "../../model/runtimeConfig";
import type { DatacenterPlan, PlannedHost, PlannedReplica, PlannedService } from "../../plan";
import { HOST_AGENT } from "../docker/images";
import type { CloudInitContainer, CloudInitFile, CloudInitPort } from "./cloudInit";

/** The host agent: identity and health of the server, on its management addresses. */
export function agentContainer(datacenter: string, host: PlannedHost, image: string): CloudInitContainer {
  return {
    id: HOST_AGENT,
    image,
    hostname: `host-${host.id}`,
    env: {
      SP_DATACENTER: datacenter,
      SP_HOST_ID: host.id,
      SP_RACK: host.rack,
      SP_HOST_KIND: host.kind,
      SP_PSUS: JSON.stringify(host.psus),
      SP_MGMT_PORT: String(MANAGEMENT_PORT),
    },
    ports: Object.values(host.addresses).map((address): CloudInitPort => ({ address, port: MANAGEMENT_PORT, protocol: "tcp" })),
    files: [],
    cpus: 0.1,
    memoryGb: 0.0625,
  };
}

/**
 * Ports of a replica: each role port on the replica's address of every network the exposure
 * matrix lists for it (the management port on the management address only), and each published
 * port on the server's public IPv4.
 */
export function replicaPorts(plan: DatacenterPlan, replica: PlannedReplica): CloudInitPort[] {
  const ports: CloudInitPort[] = [];
  for (const e of plan.exposure.filter((x) => x.service === replica.service)) {
    for (const net of e.reachableFrom) {
      const address = replica.addresses[net];
      if (address) ports.push({ address, port: e.number, protocol: e.protocol });
    }
  }
  for (const p of replica.published) ports.push({ address: "public", port: p.port, protocol: p.protocol });
  return ports;
}

/** One replica's container; `files` are the role's files (TLS, credentials) with their contents resolved. */
export function replicaContainer(
  datacenter: string,
  plan: DatacenterPlan,
  replica: PlannedReplica,
  service: PlannedService,
  image: string,
  files: readonly CloudInitFile[],
  hasVolume: boolean,
): CloudInitContainer {
  const dataPath = ROLE_INFO[service.role].dataPath;
  return {
    id: replica.id,
    image,
    hostname: replica.id,
    env: {
      SP_DATACENTER: datacenter,
      SP_SERVICE: service.id,
      SP_ROLE: service.role,
      SP_REPLICA: replica.id,
      SP_HOST: replica.host,
      SP_CONFIG: RUNTIME_CONFIG_PATH,
      SP_MGMT_PORT: String(MANAGEMENT_PORT),
      ...(replica.managementAddress ? { SP_MGMT_ADDRESS: replica.managementAddress } : {}),
    },
    ports: replicaPorts(plan, replica),
    files: [{ path: RUNTIME_CONFIG_PATH, content: JSON.stringify(replicaRuntimeConfig(plan, replica, service)) }, ...files],
    cpus: replica.resources.cpus,
    memoryGb: replica.resources.memoryGb,
    ...(hasVolume && dataPath ? { volume: { containerPath: dataPath } } : {}),
  };
}
