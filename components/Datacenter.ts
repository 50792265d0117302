import * as pulumi from "@pulumi/pulumi";
import { DatacenterHost } from "./DatacenterHost";
import { DatacenterPki } from "./DatacenterPki";
import { DatacenterNetwork } from "./DatacenterNetwork";
import { DatacenterService } from "./DatacenterService";
import { TLS_PATHS } from "../contracts/paths";
import { agentLaunch, datacenterResolvers, launchFile, type LaunchFile } from "./model/launch";
import type { DatacenterPlan, PlannedHost } from "./plan";
import { powerSummary, type PowerSummary } from "./power";
import type { DatacenterSpec } from "./spec/schema";
import type { DatacenterTarget, NetworkHandle } from "./targets/target";

export interface DatacenterArgs {
  /** The validated spec (from `serverpark:datacenter`). */
  readonly spec: DatacenterSpec;
  /** The plan computed from the spec and the stack's lock. */
  readonly plan: DatacenterPlan;
  /** Where the datacenter runs: the Docker target (default) or Hetzner Cloud. */
  readonly target: DatacenterTarget;
}

/**
 * A whole datacenter: networks, hosts and services, created through one target. The
 * `model` output carries the spec and plan so policies and reports judge the datacenter as
 * a whole (power paths, redundancy) and not just resource by resource.
 */
export class Datacenter extends pulumi.ComponentResource {
  readonly domain: pulumi.Output<string>;
  /** `replica/port` → `address:port` of every port published outside the datacenter. */
  readonly endpoints: pulumi.Output<Record<string, string>>;
  /** replica id → network id → address. */
  readonly addresses: pulumi.Output<Record<string, Record<string, string>>>;
  /** Services whose role has no image for this target yet (declared, not deployed). */
  readonly undeployedServices: pulumi.Output<string[]>;
  /** The spec and plan, for policies and reports. */
  readonly model: pulumi.Output<{ spec: DatacenterSpec; plan: DatacenterPlan; target: string }>;
  /**
   * The operator's management client certificate (contracts/management.ts): with it, and the
   * CA, an operator or a tool reads and changes any replica's or host agent's management port.
   * The key is a Pulumi secret.
   */
  readonly operatorCredentials: pulumi.Output<{ certPem: string; keyPem: string; caPem: string }>;
  /** The power model's verdicts (components/power): N-1 table, per-service verdicts, comparable tier. */
  readonly power: pulumi.Output<PowerSummary>;

  constructor(name: string, args: DatacenterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("serverpark:index:Datacenter", name, {}, opts);
    const { spec, plan, target } = args;

    target.setup({ name, parent: this }, spec, plan);
    const networks = this.createNetworks(name, plan, target);
    const pki = new DatacenterPki(`${name}-pki`, { plan }, { parent: this });
    // Launch descriptions first (per service: certificate, role files), then each host runs its share.
    // Where replicas are separate servers, the web replicas pull customers' sites (contracts/sites.ts).
    const services = this.createServices(name, spec, plan, pki, datacenterResolvers(plan, target.runs("dns")), target.kind === "hetzner");
    const hosts = this.createHosts(name, plan, target, networks, services, pki);
    const handles = new Map(hosts.flatMap((h) => [...h.handles]));
    for (const s of services) s.settle(handles);

    const operator = pki.managementClient(`${name}-operator`, "operator", this);
    this.operatorCredentials = pulumi.secret(
      pulumi.all([operator.certPem, operator.keyPem, operator.caPem]).apply(([certPem, keyPem, caPem]) => ({ certPem, keyPem, caPem })),
    );
    this.domain = pulumi.output(plan.domain);
    this.endpoints = pulumi.all(services.map((s) => s.endpoints)).apply((list) => Object.assign({}, ...list) as Record<string, string>);
    this.addresses = pulumi.output(Object.fromEntries(plan.replicas.map((r) => [r.id, { ...r.addresses }])));
    this.undeployedServices = pulumi.all(services.map((s) => s.deployed)).apply((flags) => plan.services.filter((_, i) => !flags[i]).map((s) => s.id));
    this.model = pulumi.output({ spec, plan, target: target.kind });
    this.power = pulumi.output(powerSummary(spec, plan));
    this.registerOutputs({
      domain: this.domain,
      endpoints: this.endpoints,
      addresses: this.addresses,
      undeployedServices: this.undeployedServices,
      model: this.model,
      power: this.power,
      operatorCredentials: this.operatorCredentials,
    });
  }

  /** A host agent's certificate for its management port, with the CA to check its callers. */
  private agentFiles(name: string, host: PlannedHost, pki: DatacenterPki): LaunchFile[] {
    const cert = pki.hostCertificate(`${name}-host-${host.id}-agent`, host, this);
    return [launchFile(TLS_PATHS.cert, cert.certPem), launchFile(TLS_PATHS.key, cert.keyPem, true), launchFile(TLS_PATHS.ca, cert.caPem)];
  }

  private createNetworks(name: string, plan: DatacenterPlan, target: DatacenterTarget): Map<string, NetworkHandle> {
    const handles = new Map<string, NetworkHandle>();
    for (const network of plan.networks) {
      const component = new DatacenterNetwork(`${name}-net-${network.id}`, { network, target }, { parent: this });
      handles.set(network.id, component.handle);
    }
    return handles;
  }

  private createHosts(
    name: string,
    plan: DatacenterPlan,
    target: DatacenterTarget,
    networks: ReadonlyMap<string, NetworkHandle>,
    services: readonly DatacenterService[],
    pki: DatacenterPki,
  ): DatacenterHost[] {
    const hosted = new Map(services.flatMap((s) => s.hosted.map((h) => [h.launch.replica.id, h] as const)));
    return plan.hosts.map(
      (host) =>
        new DatacenterHost(
          `${name}-host-${host.id}`,
          { agent: agentLaunch(plan, host, this.agentFiles(name, host, pki)), replicas: host.replicas.map((id) => hosted.get(id)!), target, networks },
          { parent: this },
        ),
    );
  }

  private createServices(
    name: string,
    spec: DatacenterSpec,
    plan: DatacenterPlan,
    pki: DatacenterPki,
    resolvers: readonly string[],
    pullSites: boolean,
  ): DatacenterService[] {
    const replicas = new Map(plan.replicas.map((r) => [r.id, r]));
    return plan.services.map(
      (service) =>
        new DatacenterService(
          `${name}-svc-${service.id}`,
          // An HA db group's monitor is launched by its service too (components/plan/ha.ts).
          {
            service,
            replicas: [...service.replicas, ...(service.ha ? [service.ha.monitor] : [])].map((id) => replicas.get(id)!),
            pki,
            spec,
            plan,
            resolvers,
            pullSites,
          },
          { parent: this },
        ),
    );
  }
}
