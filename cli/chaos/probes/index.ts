/**
 * Which probes measure a datacenter's services during a live run, and where they point:
 *
 * - from the internet side (the ports the running containers publish on 127.0.0.1, read with
 *   `docker inspect`): the web site and the game's WebSocket through the proxy (every proxy
 *   replica tried in turn, like a client with the name's two addresses), DNS (the second
 *   name server asked when the first does not answer within a second, like a resolver), the
 *   SMTP greeting, an IMAP LOGIN over TLS (`mail/imap-login`), and the NOC page;
 * - from the private network (the replicas' planned addresses, see private.ts): a db query
 *   (`db/query`: log in, `SELECT 1`) and an SFTP login (`files/sftp-login`).
 *
 * The logins need the deployment's generated passwords (../secrets.ts). For a service whose
 * password is not to be had, its probe stops at the protocol's handshake and says so by its
 * name: `mail/imaps` (TLS and the greeting), `db/postgres` (startup handshake), `files/sftp`
 * (the SSH greeting).
 *
 * Nothing else is ever contacted: 127.0.0.1 and the datacenter's own container addresses.
 */
import type { DatacenterPlan } from "../../../components/plan/types";
import { docker } from "../../../lab/docker-cli";
import { anyOf, dnsSoa, httpGet, imapLogin, oneLoginAtATime, tcpGreeting, tlsGreeting, websocketOpen, type Check, type Endpoint } from "./protocols";
import type { ProbeLogins } from "../secrets";
import type { PrivateTarget } from "./private";

export interface ChaosProbe {
  /** `<service>/<how>`, e.g. `www/https`. */
  readonly probe: string;
  readonly service: string;
  readonly timeoutMs: number;
  readonly check: Check;
}

/** replica id → `"<container port>/<protocol>"` → where it is published on this machine. */
export type Published = ReadonlyMap<string, ReadonlyMap<string, Endpoint>>;

interface Inspected {
  Config: { Labels: Record<string, string> | null };
  NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
}

/** The published ports of running containers, by replica (label `serverpark.replica`). */
export async function publishedPorts(containerIds: readonly string[]): Promise<Published> {
  const out = new Map<string, Map<string, Endpoint>>();
  if (containerIds.length === 0) return out;
  const inspected = JSON.parse((await docker(["inspect", "--type", "container", ...containerIds], { detached: true })).stdout) as Inspected[];
  for (const c of inspected) {
    const replica = c.Config.Labels?.["serverpark.replica"];
    if (!replica) continue;
    const ports = new Map<string, Endpoint>();
    for (const [key, bindings] of Object.entries(c.NetworkSettings.Ports ?? {})) {
      // Only this machine's loopback: the local datacenter publishes nowhere else.
      const b = (bindings ?? []).find((x) => x.HostIp === "127.0.0.1" || x.HostIp === "0.0.0.0" || x.HostIp === "");
      if (b) ports.set(key, { host: "127.0.0.1", port: Number(b.HostPort) });
    }
    out.set(replica, ports);
  }
  return out;
}

/** How long a client waits before it gives up on an attempt: a slow answer (the proxy retrying a dead upstream for 2 s, on a busy machine) is still an answer. */
export const PROBE_TIMEOUT_MS = 5000;
/** A resolver's wait for one name server before it asks the next. */
export const DNS_SERVER_TIMEOUT_MS = 1000;

export interface ProbeSet {
  readonly public: ChaosProbe[];
  readonly private: PrivateTarget[];
  /** probe → password, for the private targets that log in. */
  readonly passwords: Record<string, string>;
  /** The internal network the private probes run on, or undefined when there are none. */
  readonly privateNetwork?: string;
}

/** The probes for every service the plan has, pointed at what is published and planned. */
export function datacenterProbes(plan: DatacenterPlan, published: Published, logins: ProbeLogins = new Map()): ProbeSet {
  const domain = plan.domain;
  const endpoints = (service: string, port: string) =>
    plan.replicas.filter((r) => r.service === service).flatMap((r) => (published.get(r.id)?.get(port) ? [published.get(r.id)!.get(port)!] : []));
  const proxy = plan.services.find((s) => s.role === "proxy");
  const probes: ChaosProbe[] = [];
  const add = (service: string, how: string, list: readonly Endpoint[], attempt: Parameters<typeof anyOf>[1], perEndpointMs?: number) => {
    if (list.length > 0) probes.push({ probe: `${service}/${how}`, service, timeoutMs: PROBE_TIMEOUT_MS, check: anyOf(list, attempt, perEndpointMs) });
  };
  const privateNet = plan.networks.find((n) => n.exposure === "internal");
  const targets: PrivateTarget[] = [];
  const passwords: Record<string, string> = {};

  for (const s of plan.services) {
    const name = `${s.id}.${domain}`;
    if (s.role === "web" && proxy) {
      // A fresh copy: the proxy's cache keeps the page for its max-age (60 s), which would hide
      // an outage of the web servers for as long as the cached copy happens to have left.
      add(s.id, "http", endpoints(proxy.id, "80/tcp"), httpGet({ tls: false, hostname: name, path: "/", fresh: true }));
      add(s.id, "https", endpoints(proxy.id, "443/tcp"), httpGet({ tls: true, hostname: name, path: "/", fresh: true }));
    } else if (s.role === "game" && proxy) {
      add(s.id, "websocket", endpoints(proxy.id, "443/tcp"), websocketOpen({ tls: true, hostname: name, path: "/ws" }));
    } else if (s.role === "dns") {
      add(s.id, "dns", endpoints(s.id, "53/udp"), dnsSoa(domain), DNS_SERVER_TIMEOUT_MS);
    } else if (s.role === "mail") {
      add(s.id, "smtp", endpoints(s.id, "25/tcp"), tcpGreeting(/^220[ -]/));
      const login = logins.get(s.id);
      if (login) add(s.id, "imap-login", endpoints(s.id, "993/tcp"), oneLoginAtATime(imapLogin(name, login.user, login.password)));
      else add(s.id, "imaps", endpoints(s.id, "993/tcp"), tlsGreeting(name, /^\* OK/));
    } else if (s.role === "noc") {
      // The NOC page is HTTPS only (images/noc/src/web.ts); the probe keeps its name "http".
      add(s.id, "http", endpoints(s.id, "8080/tcp"), httpGet({ tls: true, hostname: name, path: "/" }));
    } else if ((s.role === "db" || s.role === "file") && privateNet) {
      const port = s.ports.find((p) => p.name === (s.role === "db" ? "postgres" : "sftp"));
      const login = logins.get(s.id);
      const how = s.role === "db" ? (login ? "query" : "postgres") : login ? "sftp-login" : "sftp";
      const kind = s.role === "db" ? (login ? "postgres-query" : "postgres") : login ? "sftp-login" : "ssh";
      // The service's replicas only: an HA db group's monitor (components/plan/ha.ts) serves no client.
      for (const r of plan.replicas.filter((x) => s.replicas.includes(x.id))) {
        const host = r.addresses[privateNet.id];
        if (!port || !host) continue;
        targets.push({
          probe: `${s.id}/${how}`,
          kind,
          host,
          port: port.port,
          ...(login ? { user: login.user, ...(login.database ? { database: login.database } : {}) } : {}),
        });
        if (login) passwords[`${s.id}/${how}`] = login.password;
      }
    }
  }
  return { public: probes, private: targets, passwords, privateNetwork: privateNet?.id };
}
