/**
 * Routing: a request's Host and path select a route (exact host, then `*.suffix`, then
 * `*`; longest path prefix within the host), and each route has its pool. Routes without
 * settings come from the directory: one per web or game service, by its names.
 */
import type { Logger } from "../../runtime/log";
import type { DirectoryService, ReplicaConfig } from "../../runtime/replica";
import type { ProxySettings, RouteSettings } from "../../../contracts/settings/proxy";
import { Pool } from "./pool";

export interface Route {
  readonly id: string;
  readonly settings: RouteSettings;
  readonly pool: Pool;
}

/** A service's public names: `<service>.<domain>` and `<service>.<network>.<domain>` for each network it is on. */
function namesOf(s: DirectoryService, domain: string): string[] {
  const networks = [...new Set(s.replicas.flatMap((r) => Object.keys(r.addresses)))];
  return [`${s.id}.${domain}`, ...networks.map((net) => `${s.id}.${net}.${domain}`)].map((h) => h.toLowerCase());
}

/**
 * Without configured routes, the proxy routes by name to every web service (its "http"
 * port, cached) and every game service (its "game" port: the client page at `/` and the
 * WebSocket at `/ws`, passed through on upgrade; nothing cached). Game routes balance by
 * least connections, since a game connection lasts as long as the player plays; and the
 * health check asks the game's `/healthz`, which fails when its tick loop has stalled.
 */
export function defaultRoutes(config: ReplicaConfig<ProxySettings>): RouteSettings[] {
  const check = { intervalMs: 2000, timeoutMs: 1000, unhealthyAfter: 2, healthyAfter: 2 };
  return config.directory.flatMap((s): RouteSettings[] => {
    if (s.role === "web")
      return [
        {
          hosts: namesOf(s, config.domain),
          pathPrefix: "/",
          service: s.id,
          port: "http",
          balance: "round-robin",
          healthCheck: { path: "/", ...check },
          cache: true,
        },
      ];
    if (s.role === "game")
      return [
        {
          hosts: namesOf(s, config.domain),
          pathPrefix: "/",
          service: s.id,
          port: "game",
          balance: "least-connections",
          healthCheck: { path: "/healthz", ...check },
          cache: false,
        },
      ];
    return [];
  });
}

/** The replicas of a directory service, at their address on a network this proxy shares. */
export function serversOf(service: DirectoryService, portName: string, own: Readonly<Record<string, string>>): { id: string; host: string; port: number }[] {
  const port = service.ports.find((p) => p.name === portName) ?? service.ports.find((p) => p.protocol === "tcp");
  if (!port) throw new Error(`service ${service.id} has no port named "${portName}"`);
  const shared = Object.keys(own);
  return service.replicas.flatMap((r) => {
    // Prefer a shared non-management network; the management network carries health data only.
    const net = shared.filter((n) => r.addresses[n]).sort((a, b) => Number(a === "mgmt") - Number(b === "mgmt"))[0];
    return net ? [{ id: r.id, host: r.addresses[net]!, port: port.port }] : [];
  });
}

export class Router {
  readonly routes: Route[];
  private readonly exact = new Map<string, Route[]>();
  private readonly wildcard: [string, Route[]][] = [];
  private readonly any: Route[] = [];

  constructor(config: ReplicaConfig<ProxySettings>, log: Logger, onChange?: ConstructorParameters<typeof Pool>[0]["onChange"]) {
    const settings = config.settings.routes.length > 0 ? config.settings.routes : defaultRoutes(config);
    this.routes = settings.map((r, i) => {
      const id = `${r.hosts[0]}${r.pathPrefix}`;
      let servers: { id: string; host: string; port: number }[];
      if (r.servers) {
        servers = r.servers.map((s) => {
          const [host, port] = [s.slice(0, s.lastIndexOf(":")), Number(s.slice(s.lastIndexOf(":") + 1))];
          return { id: s, host, port };
        });
      } else {
        const service = config.directory.find((s) => s.id === r.service);
        if (!service)
          throw new Error(`settings.routes[${i}].service: no service "${r.service}" in the datacenter (have: ${config.directory.map((s) => s.id).join(", ")})`);
        servers = serversOf(service, r.port, config.addresses);
        if (servers.length === 0) throw new Error(`settings.routes[${i}]: service "${r.service}" shares no network with this proxy`);
      }
      const pool = new Pool({
        name: id,
        servers,
        balance: r.balance,
        healthCheck: { ...r.healthCheck, host: r.hosts.find((h) => !h.includes("*")) },
        passive: config.settings.passive,
        timeouts: { connectMs: config.settings.connectTimeoutMs, upstreamMs: config.settings.upstreamTimeoutMs },
        log,
        ...(onChange ? { onChange } : {}),
      });
      return { id, settings: r, pool };
    });
    for (const route of this.routes) {
      for (const host of route.settings.hosts) {
        if (host === "*") this.any.push(route);
        else if (host.startsWith("*.")) this.wildcard.push([host.slice(1), [route]]);
        else this.exact.set(host, [...(this.exact.get(host) ?? []), route]);
      }
    }
  }

  match(hostHeader: string | undefined, url: string): Route | undefined {
    let host = (hostHeader ?? "").toLowerCase();
    const colon = host.startsWith("[") ? host.indexOf("]:") + 1 : host.lastIndexOf(":");
    if (colon > 0) host = host.slice(0, colon);
    if (host.endsWith(".")) host = host.slice(0, -1);
    const candidates = this.exact.get(host) ?? this.wildcard.find(([suffix]) => host.endsWith(suffix))?.[1] ?? this.any;
    let best: Route | undefined;
    for (const r of candidates) {
      if (url.startsWith(r.settings.pathPrefix) && (!best || r.settings.pathPrefix.length > best.settings.pathPrefix.length)) best = r;
    }
    return best;
  }
}
