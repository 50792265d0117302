/**
 * The firewall of one Hetzner server, derived from the plan's published ports: exactly the
 * ports its replicas publish, internet ports to everyone, operator ports and SSH to the admin
 * CIDRs only. Nothing else is open. Hetzner firewalls filter the public interface only;
 * private networks are separate Hetzner networks, which is where internal and management
 * traffic flows (see README.md).
 *
 * Behind a load balancer, an internet-facing proxy's balanced ports stay closed on the public
 * interface: the balancer reaches the proxy over the private network, and a client connecting
 * to the server's public IPv4 directly would bypass the balancer and its PROXY protocol header.
 */
import type { DatacenterPlan, PlannedHost } from "../../plan";
import { balancedPorts, type LoadBalancerDecision } from "./loadBalancer";

export interface FirewallRuleSpec {
  readonly direction: "in";
  readonly protocol: "tcp" | "udp";
  readonly port: string;
  readonly sourceIps: readonly string[];
  readonly description: string;
}

export const ANYWHERE = ["0.0.0.0/0", "::/0"] as const;
/** sshd on the server itself: management access for operators. */
export const SSH_PORT = 22;

export function firewallRules(
  plan: DatacenterPlan,
  host: PlannedHost,
  adminCidrs: readonly string[],
  balancer?: Pick<LoadBalancerDecision, "ports">,
): FirewallRuleSpec[] {
  const byKey = new Map<string, { protocol: "tcp" | "udp"; port: number; sources: readonly string[]; names: Set<string> }>();
  const add = (protocol: "tcp" | "udp", port: number, sources: readonly string[], name: string) => {
    if (sources.length === 0) return;
    const key = `${protocol}/${port}/${sources.join(",")}`;
    const entry = byKey.get(key) ?? { protocol, port, sources, names: new Set<string>() };
    entry.names.add(name);
    byKey.set(key, entry);
  };
  const admins = [...adminCidrs].sort();
  add("tcp", SSH_PORT, admins, "ssh (management)");
  for (const id of host.replicas) {
    const replica = plan.replicas.find((r) => r.id === id)!;
    const balanced = balancedPorts(plan, balancer, replica.id);
    for (const p of replica.published) {
      if (p.protocol === "tcp" && balanced.includes(p.port)) continue;
      add(p.protocol, p.port, p.audience === "internet" ? ANYWHERE : admins, `${replica.id} ${p.name}`);
    }
  }
  return [...byKey.values()]
    .sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || a.sources.join().localeCompare(b.sources.join()))
    .map((e) => ({
      direction: "in",
      protocol: e.protocol,
      port: String(e.port),
      sourceIps: e.sources,
      description: [...e.names].sort().join(", ").slice(0, 255),
    }));
}
