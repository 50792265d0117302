/**
 * Reverse DNS for the public addresses that serve a name: a server running a replica published
 * to the internet, and the load balancer. The name is the one clients are told: a mail server's
 * MX name first (a receiving MTA checks the sender's PTR against its greeting, which our mail
 * role gives as `<service>.<domain>`, the MX name), then a name server's NS name, then the
 * service's own name. Names come from the plan's zones, so the PTR and the zone cannot disagree.
 */
import * as hcloud from "@pulumi/hcloud";
import type * as pulumi from "@pulumi/pulumi";
import type { DatacenterPlan } from "../../plan";

/** MX names rank first, NS names second, a service's name third. */
function rankedNames(plan: DatacenterPlan): Map<string, number> {
  const rank = new Map<string, number>();
  const put = (name: string, r: number) => rank.set(name, Math.min(r, rank.get(name) ?? r));
  for (const zone of plan.zones) {
    for (const record of zone.records) {
      if (record.type === "MX") put(record.data.exchange, 0);
      if (record.type === "NS") put(record.data, 1);
    }
  }
  for (const service of plan.services) put(`${service.id}.${plan.domain}`, 2);
  return rank;
}

/**
 * The PTR name of each host whose server serves a name on its public addresses (host id →
 * name): the best-ranked name the zones give one of its internet-facing replicas' addresses.
 */
export function reverseNames(plan: DatacenterPlan): Map<string, string> {
  const rank = rankedNames(plan);
  const internet = new Set(plan.networks.filter((n) => n.exposure === "internet").map((n) => n.id));
  const namesOf = new Map<string, string[]>();
  for (const zone of plan.zones)
    for (const r of zone.records) if (r.type === "A" && rank.has(r.name)) namesOf.set(r.data, [...(namesOf.get(r.data) ?? []), r.name]);
  const result = new Map<string, string>();
  for (const host of plan.hosts) {
    const candidates = host.replicas
      .map((id) => plan.replicas.find((r) => r.id === id)!)
      .filter((r) => r.published.some((p) => p.audience === "internet"))
      .flatMap((r) => Object.entries(r.addresses).flatMap(([net, address]) => (internet.has(net) ? (namesOf.get(address) ?? []) : [])));
    const best = [...new Set(candidates)].sort((a, b) => rank.get(a)! - rank.get(b)! || a.localeCompare(b))[0];
    if (best) result.set(host.id, best);
  }
  return result;
}

/**
 * A server's PTRs: its IPv4 (on the primary IP when it has one, so the PTR survives a
 * replacement with the address) and its IPv6.
 */
export function serverRdns(
  name: string,
  dnsPtr: string,
  server: hcloud.Server,
  primaryIp: hcloud.PrimaryIp | undefined,
  parent: pulumi.Resource,
): hcloud.Rdns[] {
  const opts = { parent };
  const serverId = server.id.apply(Number);
  return [
    primaryIp
      ? new hcloud.Rdns(`${name}-rdns-ipv4`, { primaryIpId: primaryIp.id.apply(Number), ipAddress: primaryIp.ipAddress, dnsPtr }, opts)
      : new hcloud.Rdns(`${name}-rdns-ipv4`, { serverId, ipAddress: server.ipv4Address, dnsPtr }, opts),
    new hcloud.Rdns(`${name}-rdns-ipv6`, { serverId, ipAddress: server.ipv6Address, dnsPtr }, opts),
  ];
}

/** The load balancer's PTRs, both public addresses. */
export function loadBalancerRdns(name: string, dnsPtr: string, balancer: hcloud.LoadBalancer, parent: pulumi.Resource): hcloud.Rdns[] {
  const loadBalancerId = balancer.id.apply(Number);
  return [
    new hcloud.Rdns(`${name}-rdns-ipv4`, { loadBalancerId, ipAddress: balancer.ipv4, dnsPtr }, { parent }),
    new hcloud.Rdns(`${name}-rdns-ipv6`, { loadBalancerId, ipAddress: balancer.ipv6, dnsPtr }, { parent }),
  ];
}
