/**
 * The Hetzner load balancer in front of the internet-facing proxy replicas, and what it and
 * the proxies must agree on. The balancer forwards TCP (the proxies terminate TLS) over the
 * private network the proxies share, and sends each client's address first with the PROXY
 * protocol; the proxies believe that header from exactly the balancer's private address
 * (`settings.proxyProtocol.from`), nothing else. Either half alone breaks or spoofs client
 * addresses: a balancer sending headers to a proxy that does not expect them gets every
 * connection refused, and a proxy trusting headers from anyone else lets that sender name any
 * client it likes (rate limits, logs, X-Forwarded-For). So `checkLoadBalancer` refuses a stack
 * with one half and not the other, before anything is deployed.
 */
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { cidrContains, nthAddress, parseCidr, parseIp, type Cidr } from "../../net/ipv4";
import type { DatacenterPlan, PlannedReplica } from "../../plan";
import type { SpecIssue } from "../../spec/issues";
import type { DatacenterSpec } from "../../spec/schema";
import { settingsOf } from "../../spec/roleSettings";
import { LOAD_BALANCER_TYPE_BY_NAME, LOAD_BALANCER_TYPES } from "./catalog";

export interface LoadBalancerDecision {
  /** The planned network (exposure internet) the balancer joins and reaches the proxies on. */
  readonly network: string;
  readonly privateIp: string;
  /** The TCP ports it listens on and forwards: the proxies' internet ports. */
  readonly ports: readonly number[];
  /** Hosts whose server it forwards to (each runs an internet-facing proxy replica). */
  readonly hosts: readonly string[];
}

/** The balancer's address as the proxies must trust it. */
export const trustedFrom = (privateIp: string): string[] => [`${privateIp}/32`];

export const internetProxies = (plan: DatacenterPlan): PlannedReplica[] =>
  plan.replicas.filter((r) => r.role === "proxy" && r.published.some((p) => p.audience === "internet"));

/**
 * The TCP ports a replica is reached on through the balancer only (the balancer's ports, on an
 * internet-facing proxy; none without a balancer): its server publishes them on the private
 * network the balancer forwards over, never on its public IPv4, where a client would bypass the
 * balancer and its PROXY protocol header.
 */
export function balancedPorts(plan: DatacenterPlan, balancer: Pick<LoadBalancerDecision, "ports"> | undefined, replica: string): readonly number[] {
  return balancer && internetProxies(plan).some((r) => r.id === replica) ? balancer.ports : [];
}

/** The balancer's private address: the configured one, checked, or offset 2 of its network (the planner starts at 10). */
function privateIpOf(plan: DatacenterPlan, network: string, configured: string | undefined, issues: SpecIssue[]): string | undefined {
  const cidr = parseCidr(plan.networks.find((n) => n.id === network)!.cidr) as Cidr;
  if (configured === undefined) return nthAddress(cidr, 2);
  const path = ["hetzner", "loadBalancer", "privateIp"];
  const ip = parseIp(configured);
  if (ip === undefined) return void issues.push({ path, message: `"${configured}" is not an IPv4 address` });
  const offset = ip - cidr.base;
  if (!cidrContains(cidr, ip) || offset < 2 || offset >= cidr.size - 1) {
    return void issues.push({
      path,
      message: `${configured} is not a usable address of network ${network} (${nthAddress(cidr, 0)}/${cidr.prefix}; its first address is Hetzner's gateway)`,
    });
  }
  const taken = [...plan.hosts.map((h) => [h.id, h.addresses[network]] as const), ...plan.replicas.map((r) => [r.id, r.addresses[network]] as const)].find(
    ([, a]) => a === configured,
  );
  if (taken) return void issues.push({ path, message: `${configured} is planned for ${taken[0]} on network ${network}` });
  return configured;
}

/**
 * Checks the balancer and the proxies' PROXY protocol settings together and decides the
 * balancer's network, address, ports and targets. Pushes every problem onto `issues`.
 */
export function checkLoadBalancer(spec: DatacenterSpec, plan: DatacenterPlan, issues: SpecIssue[]): LoadBalancerDecision | undefined {
  const lb = spec.hetzner!.loadBalancer;
  const type = LOAD_BALANCER_TYPE_BY_NAME.get(lb.type);
  if (!type) {
    issues.push({
      path: ["hetzner", "loadBalancer", "type"],
      message: `unknown load balancer type "${lb.type}"; expected one of: ${LOAD_BALANCER_TYPES.map((t) => t.name).join(", ")}`,
    });
  }
  const proxies = internetProxies(plan);
  const facing = new Set(proxies.map((r) => r.service));
  const proxyServices = spec.services.map((s, i) => ({ s, i })).filter(({ s }) => s.role === "proxy" && s.roleSettings !== undefined);
  const trusting = proxyServices.filter(({ s }) => settingsOf(s, "proxy").proxyProtocol !== undefined);
  const nothingSends = (why: string) => (x: { s: (typeof proxyServices)[number]["s"]; i: number }) =>
    issues.push({
      path: ["services", x.i, "settings", "proxyProtocol"],
      message: `service ${x.s.id} expects PROXY protocol headers from ${settingsOf(x.s, "proxy").proxyProtocol!.from.join(", ")}, but ${why}: every connection from there would be refused, and a header from there would be believed; remove proxyProtocol or enable hetzner.loadBalancer`,
    });

  if (!lb.enabled) {
    trusting.forEach(nothingSends("hetzner.loadBalancer is not enabled, so nothing in front of the proxy sends them"));
    return undefined;
  }
  trusting.filter(({ s }) => !facing.has(s.id)).forEach(nothingSends("it faces no internet network, so the load balancer does not forward to it"));
  if (proxies.length === 0) {
    issues.push({ path: ["hetzner", "loadBalancer", "enabled"], message: "no proxy replica faces the internet, so the load balancer would have no targets" });
    return undefined;
  }
  const network = plan.networks.find((n) => n.exposure === "internet" && proxies.every((r) => r.addresses[n.id] !== undefined))?.id;
  if (network === undefined) {
    issues.push({
      path: ["hetzner", "loadBalancer", "enabled"],
      message: `the internet-facing proxy replicas (${proxies.map((r) => r.id).join(", ")}) share no internet network; the load balancer reaches them all on one`,
    });
    return undefined;
  }
  const privateIp = privateIpOf(plan, network, lb.privateIp, issues);
  const ports = [...new Set(proxies.flatMap((r) => r.published.filter((p) => p.audience === "internet" && p.protocol === "tcp").map((p) => p.port)))].sort(
    (a, b) => a - b,
  );
  const hosts = [...new Set(proxies.map((r) => r.host))].sort();
  if (type && ports.length > type.maxServices)
    issues.push({
      path: ["hetzner", "loadBalancer", "type"],
      message: `${type.name} listens on at most ${type.maxServices} ports; the proxies publish ${ports.length}`,
    });
  if (type && hosts.length > type.maxTargets)
    issues.push({
      path: ["hetzner", "loadBalancer", "type"],
      message: `${type.name} forwards to at most ${type.maxTargets} servers; ${hosts.length} run a proxy replica`,
    });
  if (privateIp === undefined) return undefined;

  const want = trustedFrom(privateIp);
  for (const { s, i } of proxyServices.filter((x) => facing.has(x.s.id))) {
    const pp = settingsOf(s, "proxy").proxyProtocol;
    if (!pp) {
      issues.push({
        path: ["services", i, "settings"],
        message: `the load balancer sends the PROXY protocol to service ${s.id}, which does not expect it (every request would fail): set settings.proxyProtocol.from to ${JSON.stringify(want)}, the balancer's private address`,
      });
    } else if (pp.from.length !== 1 || pp.from[0] !== want[0]) {
      issues.push({
        path: ["services", i, "settings", "proxyProtocol", "from"],
        message: `trusts PROXY headers from ${pp.from.join(", ")}; behind the Hetzner load balancer it must trust exactly ${JSON.stringify(want)} (the balancer's private address), or another sender could name any client address`,
      });
    }
  }
  return { network, privateIp, ports, hosts };
}

export interface LoadBalancerArgs {
  readonly name: string;
  readonly hetznerName: string;
  readonly type: string;
  readonly location: string;
  readonly decision: LoadBalancerDecision;
  readonly networkId: pulumi.Input<number>;
  /** The balancer joins the network through its subnet. */
  readonly subnet: hcloud.NetworkSubnet;
  readonly labels: Record<string, string>;
  readonly parent: pulumi.Resource;
}

/** The balancer, its private address, and one TCP service per port, each sending the PROXY protocol. */
export class ProxyLoadBalancer {
  readonly balancer: hcloud.LoadBalancer;
  readonly attachment: hcloud.LoadBalancerNetwork;

  constructor(args: LoadBalancerArgs) {
    const opts = { parent: args.parent };
    this.balancer = new hcloud.LoadBalancer(
      args.name,
      { name: args.hetznerName, loadBalancerType: args.type, location: args.location, labels: args.labels },
      opts,
    );
    const balancerId = this.balancer.id.apply(Number);
    this.attachment = new hcloud.LoadBalancerNetwork(
      `${args.name}-network`,
      { loadBalancerId: balancerId, networkId: args.networkId, ip: args.decision.privateIp, enablePublicInterface: true },
      { ...opts, dependsOn: [args.subnet] },
    );
    for (const port of args.decision.ports) {
      // TCP pass-through (the proxies terminate TLS), the client's address first in a PROXY header.
      new hcloud.LoadBalancerService(
        `${args.name}-${port}`,
        {
          loadBalancerId: this.balancer.id,
          protocol: "tcp",
          listenPort: port,
          destinationPort: port,
          proxyprotocol: true,
          healthCheck: { protocol: "tcp", port, interval: 10, timeout: 5, retries: 3 },
        },
        opts,
      );
    }
  }

  /** Forwards to a server over the private network: from the balancer's private address, the one the proxies trust. */
  target(name: string, serverId: pulumi.Input<number>, parent: pulumi.Resource): hcloud.LoadBalancerTarget {
    return new hcloud.LoadBalancerTarget(
      name,
      { type: "server", loadBalancerId: this.balancer.id.apply(Number), serverId, usePrivateIp: true },
      { parent, dependsOn: [this.attachment] },
    );
  }
}
