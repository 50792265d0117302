/**
 * Reading resources the way CrossGuard hands them to policies: plain JSON `props` (secrets
 * already unwrapped), Pulumi type tokens, URNs. Resource policies see a resource's inputs;
 * stack policies see every resource's outputs — for the `Datacenter` component that is
 * what it registered with `registerOutputs`, so `props.model` is `{spec, plan, target}`.
 */
import type { PolicyResource } from "@pulumi/policy";
import type { DatacenterPlan, PlannedReplica, PlannedService } from "../../components/plan/types";
import type { DatacenterSpec } from "../../components/spec/schema";

export const TYPES = {
  datacenter: "serverpark:index:Datacenter",
  container: "docker:index/container:Container",
  network: "docker:index/network:Network",
  volume: "docker:index/volume:Volume",
  image: "docker:index/image:Image",
  remoteImage: "docker:index/remoteImage:RemoteImage",
  hcloudServer: "hcloud:index/server:Server",
  hcloudVolume: "hcloud:index/volume:Volume",
  hcloudPrimaryIp: "hcloud:index/primaryIp:PrimaryIp",
  hcloudFloatingIp: "hcloud:index/floatingIp:FloatingIp",
  hcloudLoadBalancer: "hcloud:index/loadBalancer:LoadBalancer",
  hcloudNetworkSubnet: "hcloud:index/networkSubnet:NetworkSubnet",
  hcloudFirewall: "hcloud:index/firewall:Firewall",
} as const;

/** What the `Datacenter` component exposes as its `model` output. */
export interface DatacenterModel {
  readonly spec: DatacenterSpec;
  readonly plan: DatacenterPlan;
  readonly target: string;
}

export interface ModelOf {
  readonly urn: string;
  readonly name: string;
  readonly model: DatacenterModel;
}

/** Every `Datacenter` component in the stack with its model (one per stack in practice). */
export function datacenterModels(resources: readonly PolicyResource[]): ModelOf[] {
  return resources
    .filter((r) => r.type === TYPES.datacenter && r.props.model && typeof r.props.model === "object")
    .map((r) => ({ urn: r.urn, name: r.name, model: r.props.model as DatacenterModel }));
}

/** Labels of a Docker resource (`[{label, value}]`) or an hcloud one (`{key: value}`), as a record. */
export function labelsOf(props: Record<string, any>): Record<string, string> {
  const labels = props.labels;
  if (Array.isArray(labels)) return Object.fromEntries(labels.filter((l) => l && typeof l.label === "string").map((l) => [l.label, String(l.value)]));
  if (labels && typeof labels === "object") return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]));
  return {};
}

/**
 * `serverpark.role` and friends, with the prefix stripped. Docker labels carry the
 * `serverpark.` prefix; Hetzner labels are the target's own (`datacenter`, `role`, …, with
 * `managed-by: serverpark`), so there unprefixed keys count too.
 */
export function serverparkLabels(props: Record<string, any>): Record<string, string> {
  const out: Record<string, string> = {};
  const hetzner = !Array.isArray(props.labels);
  for (const [k, v] of Object.entries(labelsOf(props))) {
    const m = /^serverpark[.:/](.+)$/.exec(k);
    if (m) out[m[1]!] = v;
    else if (hetzner && !k.includes("/") && out[k] === undefined) out[k] = v;
  }
  return out;
}

/** How a message names a resource: its type's short name, its name and what it runs. */
export function describeResource(type: string, name: string, props: Record<string, any>): string {
  const short = type.split(":").pop() ?? type;
  const l = serverparkLabels(props);
  const what = l.replica ? ` (replica ${l.replica} of service ${l.service})` : l.kind === "host" ? ` (agent of host ${l.host})` : "";
  const shown = typeof props.name === "string" && props.name !== name ? `${props.name}` : name;
  return `${short} "${shown}"${what}`;
}

export function servicesById(plan: DatacenterPlan): Map<string, PlannedService> {
  return new Map(plan.services.map((s) => [s.id, s]));
}

export function replicasById(plan: DatacenterPlan): Map<string, PlannedReplica> {
  return new Map(plan.replicas.map((r) => [r.id, r]));
}

/** Index of a service in the spec, for config paths in messages (`services[3]`). */
export function servicePath(spec: DatacenterSpec, serviceId: string): string {
  const i = spec.services.findIndex((s) => s.id === serviceId);
  return i < 0 ? `services (${serviceId})` : `serverpark:datacenter.services[${i}] (${serviceId})`;
}
