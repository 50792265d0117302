/** HTTP(S) with undici: a GET of `/`, directly to a web server or through the proxy with the site's Host header. */
import { Agent, request } from "undici";
import type { Probe } from "./types";

export function httpProbe(tls: boolean, viaProxy: boolean): Probe {
  return async (target, ctx) => {
    const host = viaProxy ? (ctx.settings.proxyHost ?? ctx.domain) : undefined;
    const dispatcher = new Agent({
      // Through the proxy the site's name goes in SNI too: the proxy picks its certificate by it.
      connect: { timeout: ctx.timeoutMs, ca: ctx.ca, rejectUnauthorized: ctx.ca !== undefined, ...(host ? { servername: host } : {}) },
      keepAliveTimeout: 1,
      pipelining: 0,
    });
    try {
      const res = await request(`${tls ? "https" : "http"}://${target.address}:${target.port.port}/`, {
        method: "GET",
        dispatcher,
        signal: ctx.signal,
        headers: { "user-agent": "serverpark-noc", ...(host ? { host } : {}) },
      });
      await res.body.dump({ limit: 64 * 1024 });
      const detail = `HTTP ${res.statusCode}${viaProxy ? ` via proxy (Host ${host})` : ""}`;
      // 5xx: the server is there but cannot serve (a proxy without healthy upstreams).
      return res.statusCode < 500 ? { ok: true, detail } : { ok: false, degraded: true, detail };
    } finally {
      await dispatcher.destroy();
    }
  };
}
