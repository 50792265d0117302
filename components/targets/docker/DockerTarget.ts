/**
 * The Docker target: the local datacenter on one Docker engine. Every planned network is a
 * bridge network (internal unless it faces the internet) with the plan's CIDR; every host is
 * a small agent container on the management network; every replica is a container with the
 * plan's addresses, limits, labels, health check and, for stateful roles, a volume. Ports are
 * published on loopback only. Nothing here decides placement or addresses: the plan does.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { MANAGEMENT_PORT, ROLE_INFO } from "../../../contracts/roles";
import { BACKUP_PATH, RUNTIME_CONFIG_PATH } from "../../../contracts/paths";
import { replicaRuntimeConfig } from "../../model/runtimeConfig";
import type { DatacenterPlan, PlannedHost, PlannedNetwork, PlannedReplica, PlannedService } from "../../plan";
import type { DatacenterSpec } from "../../spec/schema";
import type { ReplicaFile } from "../../roles/types";
import type { DatacenterTarget, NetworkHandle, ReplicaHandle, TargetScope } from "../target";
import type { HostPorts } from "./hostPorts";
import { checkBuilt, HOST_AGENT, projectVersion, roleImageSource, type RoleImageSource } from "./images";

export interface DockerTargetOptions {
  /** Project root holding `images/`; defaults to the folder with Pulumi.yaml. */
  readonly root?: string;
  /** Mark volumes of stateful services `protect` (production stacks). @default false */
  readonly protectState?: boolean;
  /** Where each published port is bound on the machine (./hostPorts.ts, kept in the stack's lock). */
  readonly hostPorts: HostPorts;
}

/** Label prefix on every Docker object of a datacenter. */
export const LABEL = "serverpark";
const OPERATOR_NETWORK = "operator";

type Labels = { label: string; value: string }[];

function labels(values: Record<string, string>): Labels {
  return Object.keys(values)
    .sort()
    .map((k) => ({ label: `${LABEL}.${k}`, value: values[k]! }));
}

/** Health check run by the engine: the image's own probe of its /healthz. */
const HEALTHCHECK = { tests: ["CMD", "node", "/app/healthcheck.mjs"], interval: "10s", timeout: "10s", retries: 3, startPeriod: "20s" };
const LOG_OPTS = { "max-size": "10m", "max-file": "3" };
/** Lets the non-root servers bind 25, 53, 80, 443 inside their own network namespace. */
const SYSCTLS = { "net.ipv4.ip_unprivileged_port_start": "0" };

export class DockerTarget implements DatacenterTarget {
  readonly kind = "docker" as const;
  private spec!: DatacenterSpec;
  private plan!: DatacenterPlan;
  private version = "0.0.0";
  private readonly images = new Map<string, docker.Image>();
  private operatorNetwork: docker.Network | undefined;
  private readonly resolvers: string[] = [];

  constructor(private readonly options: DockerTargetOptions) {}

  setup(scope: TargetScope, spec: DatacenterSpec, plan: DatacenterPlan): void {
    this.spec = spec;
    this.plan = plan;
    this.version = projectVersion(this.options.root);
    const roles = [HOST_AGENT, ...new Set(plan.services.map((s) => s.role))];
    const sources: RoleImageSource[] = [];
    for (const role of roles) {
      const source = roleImageSource(role, this.options.root);
      if (source) sources.push(source);
      else pulumi.log.warn(`role "${role}" has no image yet (images/${role}/Dockerfile); its services are declared but not deployed`);
    }
    checkBuilt(sources, pulumi.runtime.isDryRun(), (message) => void pulumi.log.warn(message));
    for (const source of sources) this.images.set(source.role, this.image(scope, source));
    if (plan.replicas.some((r) => r.published.some((p) => p.audience === "operator"))) {
      this.operatorNetwork = new docker.Network(
        `${scope.name}-net-${OPERATOR_NETWORK}`,
        {
          name: `${spec.name}-${OPERATOR_NETWORK}`,
          driver: "bridge",
          internal: false,
          ipamConfigs: [{ subnet: spec.docker.operatorCidr }],
          labels: labels({ datacenter: spec.name, network: OPERATOR_NETWORK, exposure: "operator", version: this.version }),
        },
        { parent: scope.parent },
      );
    }
    // Replicas resolve through the datacenter's own DNS servers once the dns role deploys.
    if (this.images.has("dns")) {
      for (const r of plan.replicas.filter((x) => x.role === "dns")) {
        const internal = plan.networks.find((n) => n.exposure === "internal" && r.addresses[n.id]);
        if (internal) this.resolvers.push(r.addresses[internal.id]!);
      }
    }
  }

  private image(scope: TargetScope, source: RoleImageSource): docker.Image {
    return new docker.Image(
      `${scope.name}-image-${source.role}`,
      {
        imageName: source.imageName,
        skipPush: true,
        build: {
          context: source.context,
          dockerfile: source.dockerfile,
          builderVersion: "BuilderV1",
          args: { VERSION: source.tag },
        },
      },
      { parent: scope.parent },
    );
  }

  network(scope: TargetScope, network: PlannedNetwork): NetworkHandle {
    const net = new docker.Network(
      scope.name,
      {
        name: `${this.spec.name}-${network.id}`,
        driver: "bridge",
        // Only internet networks get a route out; the others are isolated bridges.
        internal: network.exposure !== "internet",
        ipamConfigs: [{ subnet: network.cidr, gateway: network.gateway }],
        labels: labels({ datacenter: this.spec.name, network: network.id, exposure: network.exposure, version: this.version }),
      },
      { parent: scope.parent },
    );
    return { name: net.name };
  }

  host(scope: TargetScope, host: PlannedHost, networks: ReadonlyMap<string, NetworkHandle>): void {
    const image = this.images.get(HOST_AGENT);
    if (!image) return;
    const attach = Object.entries(host.addresses).map(([netId, address]) => ({
      name: networks.get(netId)!.name,
      ipv4Address: address,
      aliases: [`host-${host.id}`],
    }));
    new docker.Container(
      `${scope.name}-agent`,
      {
        name: `${this.spec.name}-host-${host.id}`,
        hostname: `host-${host.id}`,
        image: image.imageName,
        envs: [
          `SP_DATACENTER=${this.spec.name}`,
          `SP_HOST_ID=${host.id}`,
          `SP_RACK=${host.rack}`,
          `SP_HOST_KIND=${host.kind}`,
          `SP_PSUS=${JSON.stringify(host.psus)}`,
          `SP_MGMT_PORT=${MANAGEMENT_PORT}`,
        ],
        labels: labels({
          datacenter: this.spec.name,
          kind: "host",
          role: HOST_AGENT,
          host: host.id,
          rack: host.rack,
          feeds: host.feeds.join("+"),
          version: this.version,
        }),
        networksAdvanced: attach,
        // 128 MB: the agent itself takes ~50 MB, and operators (and tests) `docker exec` node in it.
        ...this.common(0.1, 0.125),
      },
      { parent: scope.parent },
    );
  }

  replica(
    scope: TargetScope,
    replica: PlannedReplica,
    service: PlannedService,
    networks: ReadonlyMap<string, NetworkHandle>,
    files: readonly ReplicaFile[],
  ): ReplicaHandle | undefined {
    const image = this.images.get(service.role);
    if (!image) return undefined;
    const info = ROLE_INFO[service.role];
    const volumes: docker.types.input.ContainerVolume[] = [];
    if (info.stateful && info.dataPath) {
      const volume = new docker.Volume(
        `${scope.name}-data`,
        {
          name: `${this.spec.name}-${replica.id}-data`,
          labels: labels({ datacenter: this.spec.name, service: service.id, replica: replica.id, role: service.role, version: this.version }),
        },
        { parent: scope.parent, protect: this.options.protectState ?? false },
      );
      volumes.push({ volumeName: volume.name, containerPath: info.dataPath });
    }
    // Declared backups get a volume of their own, so losing the data volume does not lose them.
    // It is labelled with the host that keeps it (backup.targetHost, else the replica's host):
    // one engine holds every volume here, so the label records where the copy belongs.
    const backupEnv: string[] = [];
    if (info.stateful && service.backup) {
      const keeper = service.backup.targetHost ?? replica.host;
      const backupVolume = new docker.Volume(
        `${scope.name}-backup`,
        {
          name: `${this.spec.name}-${replica.id}-backup`,
          labels: labels({
            datacenter: this.spec.name,
            service: service.id,
            replica: replica.id,
            role: service.role,
            host: keeper,
            kind: "backup",
            version: this.version,
          }),
        },
        { parent: scope.parent, protect: this.options.protectState ?? false },
      );
      volumes.push({ volumeName: backupVolume.name, containerPath: BACKUP_PATH });
      backupEnv.push(`SP_BACKUP_DIR=${BACKUP_PATH}`);
    }
    const attach: docker.types.input.ContainerNetworksAdvanced[] = Object.entries(replica.addresses).map(([netId, address]) => ({
      name: networks.get(netId)!.name,
      ipv4Address: address,
      aliases: [replica.id, service.id],
    }));
    // Operator ports (the NOC page) are published through the operator bridge, see setup().
    if (this.operatorNetwork && replica.published.some((p) => p.audience === "operator")) {
      attach.push({ name: this.operatorNetwork.name, aliases: [replica.id] });
    }
    const config = replicaRuntimeConfig(this.plan, replica, service);
    const published = this.options.hostPorts.byReplica.get(replica.id) ?? [];
    new docker.Container(
      scope.name,
      {
        name: `${this.spec.name}-${replica.id}`,
        hostname: replica.id,
        domainname: this.plan.domain,
        image: image.imageName,
        envs: [
          `SP_DATACENTER=${this.spec.name}`,
          `SP_SERVICE=${service.id}`,
          `SP_ROLE=${service.role}`,
          `SP_REPLICA=${replica.id}`,
          `SP_HOST=${replica.host}`,
          `SP_CONFIG=${RUNTIME_CONFIG_PATH}`,
          `SP_MGMT_PORT=${MANAGEMENT_PORT}`,
          ...(replica.managementAddress ? [`SP_MGMT_ADDRESS=${replica.managementAddress}`] : []),
          ...backupEnv,
        ],
        labels: labels({
          datacenter: this.spec.name,
          kind: "replica",
          service: service.id,
          role: service.role,
          replica: replica.id,
          host: replica.host,
          rack: replica.rack,
          feeds: replica.feeds.join("+"),
          version: this.version,
        }),
        networksAdvanced: attach,
        ports: published.map((p) => ({ internal: p.port, external: p.hostPort, ip: p.hostAddress, protocol: p.protocol })),
        uploads: [
          { file: RUNTIME_CONFIG_PATH, content: JSON.stringify(config) },
          ...files.map((f) => ({ file: f.path, content: f.secret ? pulumi.secret(f.content) : f.content })),
        ],
        volumes,
        ...(this.resolvers.length > 0 ? { dns: this.resolvers, dnsSearches: [this.plan.domain] } : {}),
        ...this.common(replica.resources.cpus, replica.resources.memoryGb),
      },
      { parent: scope.parent },
    );
    const endpoints: Record<string, string> = {};
    for (const p of published) endpoints[`${replica.id}/${p.name}`] = `${p.hostAddress}:${p.hostPort}`;
    return { endpoints };
  }

  /** Settings every container shares: limits, hardening, logs, restarts, health. */
  private common(cpus: number, memoryGb: number) {
    const memory = Math.max(16, Math.round(memoryGb * 1024));
    return {
      // cpuQuota instead of `cpus`: the engine rejects `cpus` above the machine's core count,
      // and the simulated hosts may be bigger than the machine running the simulation.
      cpuPeriod: 100000,
      cpuQuota: Math.round(cpus * 100000),
      memory,
      memorySwap: memory,
      user: "1000:1000",
      capabilities: { drops: ["ALL"] },
      securityOpts: ["no-new-privileges:true"],
      // No read-only root fs: the engine refuses to upload config and TLS files into one.
      sysctls: SYSCTLS,
      restart: "unless-stopped",
      healthcheck: HEALTHCHECK,
      logDriver: "json-file",
      logOpts: LOG_OPTS,
      stopTimeout: 20,
      mustRun: true,
    };
  }
}
