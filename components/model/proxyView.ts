/**
 * The proxy's routes and certificate names, resolved once per proxy service from its parsed
 * settings and the plan (the one place they are computed): the proxy's view carries the
 * routes (contracts/views/proxy.ts), the proxy role hook asks for a certificate with the
 * names, and the NOC's view takes a probe host from them.
 *
 * Without configured routes, the proxy routes by name to every web service (its "http" port,
 * cached) and every game service (its "game" port: the client page at `/` and the WebSocket
 * at `/ws`, passed through on upgrade; nothing cached). Game routes balance by least
 * connections, since a game connection lasts as long as the player plays, and their health
 * check asks the game's `/healthz`, which fails when its tick loop has stalled.
 */
import type { AcmeView, ResolvedRoute, Upstream } from "../../contracts/views/proxy";
import type { RouteSettings } from "../../contracts/settings/proxy";
import type { DatacenterPlan, PlannedReplica, PlannedService } from "../plan";
import { settingsOf } from "../spec/roleSettings";
import { sharedNetwork } from "./networks";

export interface ProxyView {
  readonly routes: readonly ResolvedRoute[];
  /** Names for the proxy's certificate: its routes' hosts without wildcards `*`, sorted. */
  readonly certificateNames: readonly string[];
  /**
   * What the proxy orders from the ACME CA: one domain set per customer of this proxy that uses
   * it. Their names stay on the datacenter CA's certificate too, served until the ACME one exists.
   */
  readonly acme?: AcmeView;
}

const views = new WeakMap<PlannedService, ProxyView>();
const DEFAULT_CHECK = { intervalMs: 2000, timeoutMs: 1000, unhealthyAfter: 2, healthyAfter: 2 } as const;

/** A service's public names: `<service>.<domain>` and `<service>.<network>.<domain>` for each network it is on. */
function namesOf(service: PlannedService, domain: string): string[] {
  return [`${service.id}.${domain}`, ...service.networks.map((n) => `${service.id}.${n}.${domain}`)].map((h) => h.toLowerCase());
}

function defaultRoutes(plan: DatacenterPlan): RouteSettings[] {
  return plan.services.flatMap((s): RouteSettings[] => {
    const base = { hosts: namesOf(s, plan.domain), pathPrefix: "/", service: s.id };
    if (s.role === "web") return [{ ...base, port: "http", balance: "round-robin", healthCheck: { path: "/", ...DEFAULT_CHECK }, cache: true }];
    if (s.role === "game") return [{ ...base, port: "game", balance: "least-connections", healthCheck: { path: "/healthz", ...DEFAULT_CHECK }, cache: false }];
    return [];
  });
}

/**
 * The replicas of `target` at their address on a network the proxy's replicas share (the
 * proxy's replicas all sit on their service's networks), preferring any over management.
 */
function upstreamsOf(
  plan: DatacenterPlan,
  proxy: PlannedReplica,
  target: PlannedService,
  portName: string,
  replicas: ReadonlyMap<string, PlannedReplica>,
): Upstream[] {
  const port = target.ports.find((p) => p.name === portName) ?? target.ports.find((p) => p.protocol === "tcp");
  if (!port) throw new Error(`service ${target.id} has no TCP port`);
  return target.replicas.flatMap((id) => {
    const replica = replicas.get(id)!;
    const net = sharedNetwork(plan, proxy.addresses, replica.addresses, "last");
    return net ? [{ id, host: replica.addresses[net]!, port: port.port }] : [];
  });
}

/**
 * Hosting customers' sites reached through this proxy: one route per web service with every
 * customer name it serves (one pool of upstreams, however many customers), never cached, so
 * a newly published site is visible at once. Their names go on the proxy's certificate.
 */
function customerRoutes(
  plan: DatacenterPlan,
  service: PlannedService,
  services: ReadonlyMap<string, PlannedService>,
  replicas: ReadonlyMap<string, PlannedReplica>,
  proxy: PlannedReplica | undefined,
): ResolvedRoute[] {
  const byWeb = new Map<string, string[]>();
  for (const c of plan.customers ?? []) {
    if (c.site.proxyService !== service.id) continue;
    byWeb.set(c.site.webService, [...(byWeb.get(c.site.webService) ?? []), ...c.site.names]);
  }
  return [...byWeb].map(([web, hosts]) => ({
    hosts,
    pathPrefix: "/",
    balance: "round-robin",
    healthCheck: { path: "/", ...DEFAULT_CHECK },
    cache: false,
    upstreams: proxy ? upstreamsOf(plan, proxy, services.get(web)!, "http", replicas) : [],
  }));
}

/**
 * The proxy's replicas at their HTTP port, each at its address on the service's first network
 * that is not the management one (every replica of a service is on all its networks).
 */
function peersOf(plan: DatacenterPlan, service: PlannedService, replicas: ReadonlyMap<string, PlannedReplica>): { host: string; port: number }[] {
  const management = new Set(plan.networks.filter((n) => n.exposure === "management").map((n) => n.id));
  const net = service.networks.find((n) => !management.has(n)) ?? service.networks[0]!;
  const port = service.ports.find((p) => p.name === "http")!.port;
  return service.replicas.flatMap((id) => {
    const address = replicas.get(id)?.addresses[net];
    return address ? [{ host: address, port }] : [];
  });
}

/** The proxy service's resolved routes and certificate names (computed once per plan and service). */
export function proxyView(plan: DatacenterPlan, service: PlannedService): ProxyView {
  const known = views.get(service);
  if (known) return known;
  const settings = settingsOf(service, "proxy");
  const configured = settings.routes.length > 0;
  const services = new Map(plan.services.map((s) => [s.id, s]));
  const replicas = new Map(plan.replicas.map((r) => [r.id, r]));
  const proxy = replicas.get(service.replicas[0]!);
  const routes = (configured ? settings.routes : defaultRoutes(plan)).map((r, i): ResolvedRoute => {
    let upstreams: Upstream[];
    if (r.servers) {
      upstreams = r.servers.map((s) => ({ id: s, host: s.slice(0, s.lastIndexOf(":")), port: Number(s.slice(s.lastIndexOf(":") + 1)) }));
    } else {
      const target = services.get(r.service!);
      if (!target) throw new Error(`${service.id}: settings.routes[${i}].service: no service "${r.service}" in the datacenter`);
      upstreams = proxy ? upstreamsOf(plan, proxy, target, r.port, replicas) : [];
      if (proxy && upstreams.length === 0) throw new Error(`${service.id}: settings.routes[${i}]: service "${r.service}" shares no network with this proxy`);
    }
    return { hosts: r.hosts, pathPrefix: r.pathPrefix, balance: r.balance, healthCheck: r.healthCheck, cache: r.cache, upstreams };
  });
  routes.push(...customerRoutes(plan, service, services, replicas, proxy));
  const names = [...new Set(routes.flatMap((r) => r.hosts).filter((n) => n !== "*"))].sort();
  const domainSets = (plan.customers ?? [])
    .filter((c) => c.site.acme && c.site.proxyService === service.id)
    .map((c) => ({ id: c.id, names: [...c.site.names] }));
  const acme = plan.acme && domainSets.length > 0 ? { ...plan.acme, peers: peersOf(plan, service, replicas), domainSets } : undefined;
  const view: ProxyView = { routes, certificateNames: names, ...(acme ? { acme } : {}) };
  views.set(service, view);
  return view;
}

/**
 * The name the NOC asks a proxy for over HTTPS (SNI and Host): the first name on its
 * certificate that is a web site of the datacenter, else any name on it that is no wildcard.
 */
export function proxyProbeHost(plan: DatacenterPlan, service: PlannedService): string | undefined {
  const names = proxyView(plan, service).certificateNames.filter((n) => !n.includes("*"));
  const sites = new Set(plan.services.filter((s) => s.role === "web").map((s) => `${s.id}.${plan.domain}`));
  return names.find((n) => sites.has(n)) ?? names.find((n) => n.startsWith("www.")) ?? names[0];
}
