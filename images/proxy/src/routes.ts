/**
 * Routing: a request's Host and path select a route (exact host, then `*.suffix`, then
 * `*`; longest path prefix within the host), and each route has its pool. The routes come
 * resolved in the proxy's view (contracts/views/proxy.ts, from its settings or by default one
 * per web and game service): hosts, path, balance, health check and the upstream addresses.
 */
import type { Logger } from "../../runtime/log";
import type { ReplicaConfig } from "../../runtime/replica";
import type { ProxySettings } from "../../../contracts/settings/proxy";
import type { ResolvedRoute } from "../../../contracts/views/proxy";
import { Pool } from "./pool";

export interface Route {
  readonly id: string;
  readonly settings: ResolvedRoute;
  readonly pool: Pool;
}

export class Router {
  readonly routes: Route[];
  private readonly exact = new Map<string, Route[]>();
  private readonly wildcard: [string, Route[]][] = [];
  private readonly any: Route[] = [];

  constructor(config: ReplicaConfig<ProxySettings>, log: Logger, onChange?: ConstructorParameters<typeof Pool>[0]["onChange"]) {
    // A replica started without a config file (a bare `docker run`) has no routes; a config the program wrote always has them.
    this.routes = (config.routes ?? []).map((r) => {
      const id = `${r.hosts[0]}${r.pathPrefix}`;
      const pool = new Pool({
        name: id,
        servers: r.upstreams,
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
