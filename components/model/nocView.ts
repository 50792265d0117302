/**
 * The NOC's view (contracts/views/noc.ts), from the plan: its probe targets — every port of
 * every replica but its own, each at an address on a network the NOC shares with it, the
 * management network first since every replica has an address there — the name to ask each
 * proxy for, and the diagram model it colours with live state. FTP's passive data ports are
 * not probed: they only carry data for a session that reserved them (the `ftp` control
 * port's probe covers the service), and a bare connect proves nothing. Each host's agent is
 * listed at one address the NOC can reach, for its power state. Each hosting customer's
 * domain is probed over HTTPS through every replica of the proxy that serves it.
 */
import type { DiagramModel, NocView, ProbeTarget } from "../../contracts/views/noc";
import type { DatacenterPlan, PlannedReplica, PlannedService } from "../plan";
import { sharedNetwork } from "./networks";
import { proxyProbeHost } from "./proxyView";

/** Ports that are not services of their own (see above). */
export const UNPROBED_PORT = /^ftp-passive-\d+$/;

const diagrams = new WeakMap<DatacenterPlan, DiagramModel>();

/** What the datacenter drawing needs: feeds, racks with their PDUs, hosts and the replicas on each (`serverpark diagram` draws it too). */
export function diagramModel(plan: DatacenterPlan): DiagramModel {
  const known = diagrams.get(plan);
  if (known) return known;
  const model: DiagramModel = {
    datacenter: plan.datacenter,
    domain: plan.domain,
    hosts: plan.hosts.map((h) => ({
      id: h.id,
      rack: h.rack,
      kind: h.kind,
      psus: h.psus.map((p) => ({ pdu: p.pdu, feed: p.feed })),
      replicas: [...h.replicas],
    })),
    replicas: plan.replicas.map((r) => ({ id: r.id, service: r.service, role: r.role, host: r.host })),
    services: plan.services.map((s) => ({ id: s.id, role: s.role, replicas: [...s.replicas] })),
  };
  diagrams.set(plan, model);
  return model;
}

const views = new WeakMap<PlannedService, NocView>();

/** The customers' domains whose sites go through proxy service `proxy`, and whether their certificate comes from the ACME CA. */
function sitesThrough(plan: DatacenterPlan, proxy: string): { domain: string; acme: boolean }[] {
  return (plan.customers ?? [])
    .filter((c) => c.site.proxyService === proxy)
    .flatMap((c) => c.domains.map((domain) => ({ domain, acme: c.site.acme === true })));
}

/**
 * The NOC replica's view: probe targets reached from `noc`'s networks, proxy probe hosts, host
 * agents' addresses, the diagram. Every replica of a service sits on the same networks, so it is computed once per
 * NOC service.
 */
export function nocView(plan: DatacenterPlan, noc: PlannedReplica, service: PlannedService): NocView {
  const known = views.get(service);
  if (known) return known;
  const targets: ProbeTarget[] = [];
  const unreachable: string[] = [];
  const replicas = new Map(plan.replicas.map((r) => [r.id, r]));
  for (const s of plan.services) {
    if (s.id === service.id) continue;
    const ports = s.ports.filter((p) => !UNPROBED_PORT.test(p.name)).map((p) => ({ name: p.name, port: p.port, protocol: p.protocol }));
    for (const id of s.ha ? [...s.replicas, s.ha.monitor] : s.replicas) {
      const replica = replicas.get(id)!;
      const net = sharedNetwork(plan, noc.addresses, replica.addresses, "first");
      if (!net) {
        unreachable.push(id);
        continue;
      }
      // An HA db group's monitor: its PostgreSQL port only, probed for an answer (contracts/views/noc.ts `part`).
      const monitor = replica.part === "monitor";
      for (const port of monitor ? ports.filter((p) => p.name === "postgres") : ports)
        targets.push({
          service: s.id,
          role: s.role,
          replica: id,
          host: replica.host,
          port,
          address: replica.addresses[net]!,
          ...(monitor ? { part: "monitor" as const } : {}),
        });
      // Each hosting customer's site through each replica of the proxy that serves it.
      const https = s.role === "proxy" ? s.ports.find((p) => p.name === "https") : undefined;
      for (const { domain, acme } of https ? sitesThrough(plan, s.id) : []) {
        const port = { name: `site:${domain}`, port: https!.port, protocol: https!.protocol };
        const address = replica.addresses[net]!;
        targets.push({ service: s.id, role: s.role, replica: id, host: replica.host, port, address, site: domain, ...(acme ? { acme: true as const } : {}) });
      }
    }
  }
  const proxyHosts: Record<string, string> = {};
  for (const s of plan.services.filter((x) => x.role === "proxy")) {
    const host = proxyProbeHost(plan, s);
    if (host) proxyHosts[s.id] = host;
  }
  const hostAgents: Record<string, string> = {};
  for (const h of plan.hosts) {
    const net = sharedNetwork(plan, noc.addresses, h.addresses, "first");
    if (net) hostAgents[h.id] = h.addresses[net]!;
  }
  const view: NocView = { targets, unreachable, proxyHosts, hostAgents, diagram: diagramModel(plan) };
  views.set(service, view);
  return view;
}
