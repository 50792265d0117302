/**
 * HTTP(S) with undici: a GET of `/`, directly to a web server or through the proxy with a
 * site's name. Through the proxy the name goes in SNI and Host: the proxy picks its
 * certificate and route by it, and over HTTPS the certificate is verified against the
 * datacenter CA (for a customer site with an ACME certificate, the system's roots too) with
 * the name check on. The name is a hosting customer's domain for their
 * site's target, else `settings.proxyHost`, else the one the noc role hook chose from the
 * proxy's certificate (a web site's name), else the domain.
 */
import { rootCertificates } from "node:tls";
import { Agent, request } from "undici";
import { verifiedTls, type Probe, type ProbeContext, type ProbeTarget } from "./types";

export function proxySiteName(target: ProbeTarget, ctx: ProbeContext): string {
  return target.site ?? ctx.settings.proxyHost ?? ctx.proxyHosts?.[target.service] ?? ctx.domain;
}

export function httpProbe(tls: boolean, viaProxy: boolean): Probe {
  return async (target, ctx) => {
    const host = viaProxy ? proxySiteName(target, ctx) : undefined;
    const verified = tls ? verifiedTls(ctx) : undefined;
    // A customer site with an ACME certificate: the datacenter CA's until it exists, a public CA's after.
    const trust = verified && target.acme ? { ...verified, ca: [verified.ca, ...rootCertificates] } : verified;
    const dispatcher = new Agent({
      connect: { timeout: ctx.timeoutMs, ...trust, ...(host ? { servername: host } : {}) },
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
      const checked = tls ? `, TLS verified as ${host ?? target.address}` : "";
      const detail = `HTTP ${res.statusCode}${viaProxy ? ` via proxy (Host ${host})` : ""}${checked}`;
      // 5xx: the server is there but cannot serve (a proxy without healthy upstreams).
      return res.statusCode < 500 ? { ok: true, detail } : { ok: false, degraded: true, detail };
    } finally {
      await dispatcher.destroy();
    }
  };
}
