/**
 * The Hetzner Cloud target: the same plan on real machines. Every planned network is a
 * Hetzner network with one subnet (its planned CIDR); every host is a server of the smallest
 * type that holds its capacity, in a spread placement group per feed (or rack), behind a
 * firewall that opens exactly the plan's published ports; every replica is a container on its
 * host's server, with a Hetzner volume when its role keeps state. User data only bootstraps
 * (Docker and the deployment's SSH key, cloudInit.ts); the containers, their files and secrets
 * are delivered after boot over SSH (deploy.ts), so a change updates containers in place and a
 * server is replaced only when its type, location or image changes.
 * Nothing here decides placement or addresses: the plan does (see README.md for the mapping).
 */
import * as docker from "@pulumi/docker";
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { AgentLaunch } from "../../model/launch";
import type { DatacenterPlan, PlannedHost, PlannedNetwork } from "../../plan";
import type { DatacenterSpec } from "../../spec/schema";
import { checkBuilt, HOST_AGENT, projectVersion, roleImageSource, type RoleImageSource } from "../docker/images";
import type { DatacenterTarget, HostedReplica, NetworkHandle, ReplicaHandle, TargetScope } from "../target";
import { renderCloudInit } from "./cloudInit";
import { agentContainer, replicaContainer } from "./containers";
import { ServerDeployment } from "./deploy";
import { firewallRules } from "./firewall";
import type { HetznerResolution } from "./settings";
import { volumeSizeGb } from "./settings";
import { LIMITS } from "./catalog";
import { balancedPorts, internetProxies, ProxyLoadBalancer } from "./loadBalancer";
import { loadBalancerRdns, reverseNames, serverRdns } from "./rdns";
import { containerName, renderUnit, type ServerNetwork } from "./units";

export interface HetznerTargetOptions {
  /** What `checkHetzner` decided for this spec (locations, server types, placement groups). */
  readonly resolution: HetznerResolution;
  /** The registry password (`serverpark:registryPassword`, a Pulumi secret). */
  readonly registryPassword: pulumi.Output<string>;
  /** Project root holding `images/`; defaults to the folder with Pulumi.yaml. */
  readonly root?: string;
  /** Mark volumes `protect` and servers delete-protected (production stacks). @default false */
  readonly protectState?: boolean;
}

/** Roles whose addresses must survive a server replacement: clients and other resolvers remember them. */
const STABLE_ADDRESS_ROLES = new Set(["dns", "mail"]);

/**
 * Hetzner label values: at most 63 characters of letters, digits, `-`, `_` and `.`, starting
 * and ending alphanumeric. Feeds join with `-` ("A+B" is not allowed).
 */
export function labelValue(value: string): string {
  const cleaned = value
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return cleaned === "" ? "none" : cleaned;
}

function labels(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(values)
      .sort()
      .map((k) => [k, labelValue(values[k]!)]),
  );
}

/** A replica on its way to its server: its image (when the role has one) and its data volume. */
interface PlacedReplica extends HostedReplica {
  readonly image?: docker.Image;
  readonly volume?: hcloud.Volume;
}

interface HetznerNetwork {
  readonly network: hcloud.Network;
  readonly subnet: hcloud.NetworkSubnet;
}

const numericId = (id: pulumi.Output<string>) => id.apply((v) => Number(v));

export class HetznerTarget implements DatacenterTarget {
  readonly kind = "hetzner" as const;
  /** The datacenter's name: prefixes every Hetzner name. */
  private dc = "";
  private plan!: DatacenterPlan;
  private version = "0.0.0";
  private sshKeyRef!: pulumi.Input<string>;
  private readonly images = new Map<string, docker.Image>();
  private readonly placementGroups = new Map<string, hcloud.PlacementGroup>();
  private readonly networks = new Map<string, HetznerNetwork>();
  private loadBalancer: ProxyLoadBalancer | undefined;
  private lbScope: TargetScope | undefined;
  /** Host id → the name its public addresses answer to in reverse DNS. */
  private reverseNames = new Map<string, string>();
  /** The deployment's SSH key: the program generates it, state keeps it as a secret. */
  private deployKey!: tls.PrivateKey;

  constructor(private readonly options: HetznerTargetOptions) {}

  private get settings() {
    return this.options.resolution.settings;
  }

  setup(scope: TargetScope, spec: DatacenterSpec, plan: DatacenterPlan): void {
    this.dc = spec.name;
    this.plan = plan;
    this.version = projectVersion(this.options.root);
    const opts = { parent: scope.parent };
    const key = this.settings.sshKey!;
    if (key.publicKey) {
      const uploaded = new hcloud.SshKey(
        `${scope.name}-ssh-key`,
        { name: `${spec.name}-admin`, publicKey: key.publicKey, labels: this.labels({ kind: "ssh-key" }) },
        opts,
      );
      this.sshKeyRef = uploaded.id;
    } else this.sshKeyRef = key.name!;
    this.deployKey = new tls.PrivateKey(`${scope.name}-deploy-key`, { algorithm: "ED25519" }, opts);

    this.createImages(scope, plan);
    for (const group of [...new Set([...this.options.resolution.hosts.values()].map((d) => d.placementGroup))].sort()) {
      this.placementGroups.set(
        group,
        new hcloud.PlacementGroup(
          `${scope.name}-placement-${group}`,
          { name: `${spec.name}-${group}`, type: "spread", labels: this.labels({ kind: "placement", placement: group }) },
          opts,
        ),
      );
    }
    this.lbScope = scope;
    this.reverseNames = reverseNames(plan);
  }

  /** Role images, built locally and pushed to the stack's registry; servers pull them by tag. */
  private createImages(scope: TargetScope, plan: DatacenterPlan): void {
    const registry = this.settings.registry!;
    const sources: RoleImageSource[] = [];
    for (const role of [HOST_AGENT, ...new Set(plan.services.map((s) => s.role))]) {
      const source = roleImageSource(role, this.options.root);
      if (source) sources.push(source);
      else pulumi.log.warn(`role "${role}" has no image yet (images/${role}/Dockerfile); its services are declared but not deployed`);
    }
    checkBuilt(sources, pulumi.runtime.isDryRun(), (message) => void pulumi.log.warn(message));
    for (const source of sources) {
      const role = source.role;
      const image = new docker.Image(
        `${scope.name}-image-${role}`,
        {
          imageName: `${registry.server}/${registry.namespace}/${role}:${source.tag}`,
          build: {
            context: source.context,
            dockerfile: source.dockerfile,
            builderVersion: "BuilderV1",
            args: { VERSION: source.tag },
          },
          registry: { server: registry.server, username: registry.username, password: this.options.registryPassword },
        },
        { parent: scope.parent },
      );
      this.images.set(role, image);
    }
  }

  network(scope: TargetScope, network: PlannedNetwork): NetworkHandle {
    const net = new hcloud.Network(
      scope.name,
      { name: `${this.dc}-${network.id}`, ipRange: network.cidr, labels: this.labels({ kind: "network", network: network.id, exposure: network.exposure }) },
      { parent: scope.parent },
    );
    const subnet = new hcloud.NetworkSubnet(
      `${scope.name}-subnet`,
      { networkId: numericId(net.id), type: "cloud", networkZone: this.options.resolution.networkZone, ipRange: network.cidr },
      { parent: scope.parent },
    );
    this.networks.set(network.id, { network: net, subnet });
    const lb = this.options.resolution.loadBalancer;
    if (lb && lb.network === network.id) {
      const setupScope = this.lbScope!;
      this.loadBalancer = new ProxyLoadBalancer({
        name: `${setupScope.name}-lb`,
        hetznerName: `${this.dc}-lb`,
        type: this.settings.loadBalancer.type,
        location: this.options.resolution.hosts.get(lb.hosts[0]!)!.location,
        decision: lb,
        networkId: numericId(net.id),
        subnet,
        labels: this.labels({ kind: "load-balancer", role: "proxy" }),
        parent: setupScope.parent,
      });
      loadBalancerRdns(`${setupScope.name}-lb`, `${internetProxies(this.plan)[0]!.service}.${this.plan.domain}`, this.loadBalancer.balancer, setupScope.parent);
    }
    return { name: net.name };
  }

  runs(image: string): boolean {
    return this.images.has(image);
  }

  /** One server per host: its cloud-init carries the agent and every replica of the host. */
  host(scope: TargetScope, agent: AgentLaunch, replicas: readonly HostedReplica[]): ReadonlyMap<string, ReplicaHandle> {
    const placed = replicas.map((r): PlacedReplica => {
      const image = this.images.get(r.launch.image);
      const volume = this.dataVolume(r);
      return { ...r, ...(image ? { image } : {}), ...(volume ? { volume } : {}) };
    });
    this.createServer(scope, agent, placed);
    const handles = new Map<string, ReplicaHandle>();
    for (const { launch, image } of placed) {
      if (!image) continue;
      const endpoints: Record<string, string> = {};
      for (const p of launch.published) endpoints[`${launch.replica.id}/${p.name}`] = `${this.dc}-${launch.replica.host}:${p.port}`;
      handles.set(launch.replica.id, { endpoints });
    }
    return handles;
  }

  /** The replica's data volume; created even while the role has no image, so its storage exists from the first deployment. */
  private dataVolume({ launch, scope }: HostedReplica): hcloud.Volume | undefined {
    const { replica, service } = launch;
    if (!launch.volumes.some((v) => v.kind === "data")) return undefined;
    return new hcloud.Volume(
      `${scope.name}-data`,
      {
        name: `${this.dc}-${replica.id}-data`,
        size: volumeSizeGb(replica.resources.diskGb),
        location: this.options.resolution.hosts.get(replica.host)!.location,
        format: "ext4",
        deleteProtection: this.options.protectState ?? false,
        labels: this.labels({
          kind: "volume",
          service: service.id,
          replica: replica.id,
          role: service.role,
          host: replica.host,
          rack: replica.rack,
          feed: replica.feeds.join("-"),
        }),
      },
      { parent: scope.parent, protect: this.options.protectState ?? false },
    );
  }

  private createServer(scope: TargetScope, agent: AgentLaunch, replicas: readonly PlacedReplica[]): void {
    const host = agent.host;
    const decision = this.options.resolution.hosts.get(host.id)!;
    const opts = { parent: scope.parent };
    const roles = [...new Set(replicas.map((p) => p.launch.service.role))].sort();
    const hostLabels = this.labels({
      kind: "host",
      host: host.id,
      rack: host.rack,
      feed: host.feeds.join("-"),
      role: roles.join(".") || "none",
      "host-kind": host.kind,
    });

    const firewall = new hcloud.Firewall(
      `${scope.name}-firewall`,
      {
        name: `${this.dc}-${host.id}`,
        rules: firewallRules(this.plan, host, this.settings.adminCidrs, this.options.resolution.loadBalancer).map((r) => ({
          ...r,
          sourceIps: [...r.sourceIps],
        })),
        labels: hostLabels,
      },
      opts,
    );
    const stable = replicas.some((p) => STABLE_ADDRESS_ROLES.has(p.launch.service.role) && p.launch.published.some((x) => x.audience === "internet"));
    const primaryIp = stable
      ? new hcloud.PrimaryIp(
          `${scope.name}-ipv4`,
          { name: `${this.dc}-${host.id}-ipv4`, type: "ipv4", assigneeType: "server", autoDelete: false, location: decision.location, labels: hostLabels },
          { ...opts, protect: this.options.protectState ?? false },
        )
      : undefined;

    const networks = this.serverNetworks(host, decision.networks);
    // The same bootstrap on every server of the datacenter: nothing in it changes with the plan.
    const userData = this.deployKey.publicKeyOpenssh.apply((deployPublicKey) => {
      const text = renderCloudInit({ deployPublicKey });
      const size = Buffer.byteLength(text);
      if (size > LIMITS.userDataBytes) throw new Error(`cloud-init for host ${host.id} is ${size} bytes; Hetzner accepts ${LIMITS.userDataBytes}.`);
      return text;
    });

    const server = new hcloud.Server(
      `${scope.name}-server`,
      {
        name: `${this.dc}-${host.id}`,
        serverType: decision.serverType.name,
        image: this.settings.image,
        location: decision.location,
        placementGroupId: numericId(this.placementGroups.get(decision.placementGroup)!.id),
        sshKeys: [this.sshKeyRef],
        firewallIds: [numericId(firewall.id)],
        backups: decision.backups,
        deleteProtection: this.options.protectState ?? false,
        rebuildProtection: this.options.protectState ?? false,
        publicNets: [{ ipv4Enabled: true, ...(primaryIp ? { ipv4: numericId(primaryIp.id) } : {}), ipv6Enabled: true }],
        networks: networks.map((n) => ({ networkId: numericId(this.networks.get(n.id)!.network.id), ip: n.primary, aliasIps: [...n.aliases] })),
        userData,
        labels: hostLabels,
        shutdownBeforeDeletion: true,
      },
      // Servers attach to networks through their subnets. (User data, server type, location and
      // image are all the provider replaces a server for; none of them changes with a container.)
      { ...opts, dependsOn: decision.networks.map((n) => this.networks.get(n)!.subnet) },
    );
    const ptr = this.reverseNames.get(host.id);
    if (ptr) serverRdns(scope.name, ptr, server, primaryIp, scope.parent);
    const attachments = new Map<string, hcloud.VolumeAttachment>();
    for (const p of replicas) {
      if (!p.volume) continue;
      const { scope: replicaScope } = p;
      attachments.set(
        p.launch.replica.id,
        new hcloud.VolumeAttachment(
          `${replicaScope.name}-data-attach`,
          { serverId: numericId(server.id), volumeId: numericId(p.volume.id), automount: false },
          { parent: p.scope.parent },
        ),
      );
    }
    this.deploy(scope, server, networks, agent, replicas, attachments);
    if (this.loadBalancer && this.options.resolution.loadBalancer!.hosts.includes(host.id))
      this.loadBalancer.target(`${scope.name}-lb-target`, numericId(server.id), scope.parent);
  }

  /**
   * The server's address on each network: the host agent's, else its first replica's; the others become alias IPs.
   * On the load balancer's network, its proxy's comes first: the balancer reaches a server on its primary address.
   */
  private serverNetworks(host: PlannedHost, networkIds: readonly string[]): ServerNetwork[] {
    const lbNetwork = this.options.resolution.loadBalancer?.network;
    const proxy = internetProxies(this.plan).find((r) => r.host === host.id);
    return networkIds.map((id) => {
      const planned = [
        ...(host.addresses[id] ? [host.addresses[id]] : []),
        ...host.replicas.map((r) => this.plan.replicas.find((x) => x.id === r)!.addresses[id]).filter((a): a is string => a !== undefined),
      ];
      const first = id === lbNetwork ? proxy?.addresses[id] : undefined;
      const addresses = first ? [first, ...planned.filter((a) => a !== first)] : planned;
      return { id, primary: addresses[0]!, aliases: addresses.slice(1) };
    });
  }

  /** Everything the server runs, over SSH after boot: the host agent and each deployable replica. */
  private deploy(
    scope: TargetScope,
    server: hcloud.Server,
    networks: readonly ServerNetwork[],
    agent: AgentLaunch,
    replicas: readonly PlacedReplica[],
    attachments: ReadonlyMap<string, hcloud.VolumeAttachment>,
  ): void {
    const registry = this.settings.registry!;
    const deployment = new ServerDeployment({
      scope,
      server,
      privateKey: this.deployKey.privateKeyOpenssh,
      networks,
      registry: { server: registry.server, username: registry.username, password: this.options.registryPassword },
    });
    const unit = (image: docker.Image, container: (name: string) => Parameters<typeof renderUnit>[3]) =>
      image.imageName.apply((name) => renderUnit(this.dc, this.plan.domain, agent.host.id, container(name)));
    const agentImage = this.images.get(HOST_AGENT);
    if (agentImage) {
      deployment.container({
        scope,
        name: `${scope.name}-agent`,
        id: HOST_AGENT,
        container: containerName(this.dc, HOST_AGENT),
        unit: unit(agentImage, (name) => agentContainer(agent, name)),
        files: agent.files,
        dependsOn: [agentImage],
      });
    }
    for (const p of replicas) {
      if (!p.image) continue;
      const { launch } = p;
      const attachment = attachments.get(launch.replica.id);
      deployment.container({
        scope: p.scope,
        name: p.scope.name,
        id: launch.replica.id,
        container: containerName(this.dc, launch.replica.id),
        unit: unit(p.image, (name) =>
          replicaContainer(this.plan, launch, name, p.volume !== undefined, balancedPorts(this.plan, this.options.resolution.loadBalancer, launch.replica.id)),
        ),
        files: launch.files,
        ...(p.volume && attachment ? { volume: { id: p.volume.id, attachment } } : {}),
        dependsOn: [p.image],
      });
    }
  }

  private labels(values: Record<string, string>): Record<string, string> {
    return labels({ datacenter: this.dc, "managed-by": "serverpark", version: this.version, ...values });
  }
}
