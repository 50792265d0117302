/**
 * The Docker target: the local datacenter on one Docker engine. Every planned network is a
 * bridge network (internal unless it faces the internet) with the plan's CIDR; every host is
 * a small agent container on the management network; every replica is a container with the
 * plan's addresses and its launch description's env, files, volumes (data, backups), limits,
 * restart policy and health check (components/model/launch.ts). Ports are published on
 * loopback only, on host ports of this target's own choosing (./hostPorts.ts). Nothing here
 * decides placement or addresses: the plan does.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { AgentLaunch, HealthCheck, LaunchFile, LaunchVolume, ReplicaLaunch } from "../../model/launch";
import type { DatacenterPlan, PlannedNetwork } from "../../plan";
import type { DatacenterSpec } from "../../spec/schema";
import type { DatacenterTarget, HostedReplica, NetworkHandle, ReplicaHandle, TargetScope } from "../target";
import { containerPort, portRangeEnv, type HostPorts } from "./hostPorts";
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

/** The launch's health check, as the engine takes it. */
function healthcheck(h: HealthCheck) {
  return {
    tests: ["CMD", ...h.command],
    interval: `${h.intervalSeconds}s`,
    timeout: `${h.timeoutSeconds}s`,
    retries: h.retries,
    startPeriod: `${h.startPeriodSeconds}s`,
  };
}

/**
 * A launch file as a container upload: its content, or a view file read by the provider from
 * its path (its hash in `sourceHash`, so a changed view updates the container), so the
 * view's bytes are not part of the container's inputs.
 */
function upload(f: LaunchFile): docker.types.input.ContainerUpload {
  if (f.source) return { file: f.path, source: f.source.path, sourceHash: f.source.sha256 };
  return { file: f.path, content: f.secret ? pulumi.secret(f.content) : f.content };
}

/** `SP_*` variables in the launch's order, as `NAME=value`. */
function envList(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}
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

  runs(image: string): boolean {
    return this.images.has(image);
  }

  host(
    scope: TargetScope,
    agent: AgentLaunch,
    replicas: readonly HostedReplica[],
    networks: ReadonlyMap<string, NetworkHandle>,
  ): ReadonlyMap<string, ReplicaHandle> {
    this.agent(scope, agent, networks);
    const handles = new Map<string, ReplicaHandle>();
    for (const r of replicas) {
      const handle = this.replica(r.scope, r.launch, networks);
      if (handle) handles.set(r.launch.replica.id, handle);
    }
    return handles;
  }

  private agent(scope: TargetScope, launch: AgentLaunch, networks: ReadonlyMap<string, NetworkHandle>): void {
    const image = this.images.get(HOST_AGENT);
    if (!image) return;
    const host = launch.host;
    new docker.Container(
      `${scope.name}-agent`,
      {
        name: `${this.spec.name}-host-${host.id}`,
        hostname: launch.hostname,
        image: image.imageName,
        envs: envList(launch.env),
        labels: labels({
          datacenter: this.spec.name,
          kind: "host",
          role: HOST_AGENT,
          host: host.id,
          rack: host.rack,
          feeds: host.feeds.join("+"),
          version: this.version,
        }),
        networksAdvanced: Object.entries(launch.addresses).map(([netId, address]) => ({
          name: networks.get(netId)!.name,
          ipv4Address: address,
          aliases: [launch.hostname],
        })),
        uploads: launch.files.map(upload),
        // The backup store other hosts' replicas ship to (contracts/backups.ts), on a volume of its own.
        volumes: launch.volumes.map((v) => {
          const volume = new docker.Volume(
            `${scope.name}-agent-${v.kind}`,
            {
              name: `${this.spec.name}-host-${host.id}-${v.kind}`,
              labels: labels({ datacenter: this.spec.name, kind: v.kind, host: v.keeper, role: HOST_AGENT, version: this.version }),
            },
            { parent: scope.parent, protect: this.options.protectState ?? false },
          );
          return { volumeName: volume.name, containerPath: v.containerPath };
        }),
        ...this.common(launch),
      },
      { parent: scope.parent },
    );
  }

  /** A volume several replicas mount (customers' published sites), created once, by the first replica that mounts it. */
  private readonly shared = new Map<string, docker.Volume>();
  private sharedVolume(scope: TargetScope, name: string, owner: LaunchVolume["owner"]): docker.Volume {
    let volume = this.shared.get(name);
    if (!volume) {
      volume = new docker.Volume(
        `${this.spec.name}-${name}`,
        {
          name: `${this.spec.name}-${name}`,
          labels: labels({ datacenter: this.spec.name, ...(owner ? { service: owner.service, role: owner.role } : {}), kind: "sites", version: this.version }),
        },
        { parent: scope.parent, protect: this.options.protectState ?? false },
      );
      this.shared.set(name, volume);
    }
    return volume;
  }

  private replica(scope: TargetScope, launch: ReplicaLaunch, networks: ReadonlyMap<string, NetworkHandle>): ReplicaHandle | undefined {
    const image = this.images.get(launch.image);
    if (!image) return undefined;
    const { replica, service } = launch;
    const volumes: docker.types.input.ContainerVolume[] = launch.volumes.map((v) => {
      if (v.shared !== undefined)
        return { volumeName: this.sharedVolume(scope, v.shared, v.owner).name, containerPath: v.containerPath, readOnly: v.readOnly ?? false };
      // Backups get a volume of their own, so losing the data volume does not lose them. It is
      // labelled with the host that keeps it: one engine holds every volume here, so the label
      // records where the copy belongs.
      const volume = new docker.Volume(
        `${scope.name}-${v.kind}`,
        {
          name: `${this.spec.name}-${replica.id}-${v.kind}`,
          labels: labels({
            datacenter: this.spec.name,
            service: service.id,
            replica: replica.id,
            role: service.role,
            ...(v.kind === "backup" ? { host: v.keeper, kind: "backup" } : {}),
            version: this.version,
          }),
        },
        { parent: scope.parent, protect: this.options.protectState ?? false },
      );
      return { volumeName: volume.name, containerPath: v.containerPath };
    });
    const attach: docker.types.input.ContainerNetworksAdvanced[] = Object.entries(launch.addresses).map(([netId, address]) => ({
      name: networks.get(netId)!.name,
      ipv4Address: address,
      // An HA db group's monitor answers to its own name only (components/plan/ha.ts).
      aliases: replica.part === "monitor" ? [replica.id] : [replica.id, service.id],
    }));
    // Operator ports (the NOC page) are published through the operator bridge, see setup().
    if (this.operatorNetwork && launch.published.some((p) => p.audience === "operator")) {
      attach.push({ name: this.operatorNetwork.name, aliases: [replica.id] });
    }
    const published = this.options.hostPorts.byReplica.get(replica.id) ?? [];
    new docker.Container(
      scope.name,
      {
        name: `${this.spec.name}-${replica.id}`,
        hostname: launch.hostname,
        ...(launch.domain ? { domainname: launch.domain } : {}),
        image: image.imageName,
        // FTP's passive ports: the server listens on the host ports this stack got (./hostPorts.ts).
        envs: envList({ ...launch.env, ...portRangeEnv(service.role, published) }),
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
        ports: published.map((p) => ({ internal: containerPort(p), external: p.hostPort, ip: p.hostAddress, protocol: p.protocol })),
        // Uploads are root's: their mode stays the engine's default (readable by the service user), see components/model/launch.ts.
        uploads: launch.files.map(upload),
        volumes,
        ...(launch.resolvers.length > 0 ? { dns: [...launch.resolvers], dnsSearches: [launch.domain ?? this.plan.domain] } : {}),
        ...this.common(launch),
      },
      { parent: scope.parent },
    );
    const endpoints: Record<string, string> = {};
    for (const p of published) endpoints[`${replica.id}/${p.name}`] = `${p.hostAddress}:${p.hostPort}`;
    return { endpoints };
  }

  /** Settings every container shares: limits, hardening, logs, and the launch's restart policy and health check. */
  private common(launch: AgentLaunch | ReplicaLaunch) {
    const { cpus, memoryGb } = launch.resources;
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
      restart: launch.restart,
      healthcheck: healthcheck(launch.health),
      logDriver: "json-file",
      logOpts: LOG_OPTS,
      stopTimeout: 20,
      mustRun: true,
    };
  }
}
