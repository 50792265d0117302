/**
 * The DNS listeners: one UDP socket and one TCP server on the same port (53 in the
 * datacenter). UDP answers go through response rate limiting; TCP (RFC 7766) takes
 * length-prefixed messages, several per connection, answered in order, and closes idle
 * or misbehaving connections without disturbing anyone else.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../../runtime/log";
import type { DnsSettings } from "../../../contracts/settings/dns";
import { respond, type Reply, type Transport } from "./responder";
import { ResponseRateLimiter } from "./rrl";
import type { ZoneSet } from "./zones";

export interface DnsServerOptions {
  readonly host: string;
  /** 0 picks a free port (the same for UDP and TCP). */
  readonly port: number;
  readonly settings: DnsSettings;
  readonly zones: () => ZoneSet;
  readonly log: Logger;
  readonly registry: Registry;
}

export interface DnsServer {
  readonly port: number;
  readonly udp: UdpSocket;
  readonly tcp: Server;
  close(): Promise<void>;
}

/** Largest TCP message (RFC 1035: 16-bit length) plus its prefix. */
const MAX_TCP_MESSAGE = 65535;

function metrics(registry: Registry) {
  return {
    queries: new Counter({
      name: "dns_queries_total",
      help: "DNS messages answered, by transport and rcode",
      labelNames: ["transport", "rcode"],
      registers: [registry],
    }),
    dropped: new Counter({ name: "dns_dropped_total", help: "DNS messages not answered, by reason", labelNames: ["reason"], registers: [registry] }),
    rrl: new Counter({ name: "dns_rrl_limited_total", help: "UDP responses limited by RRL, by action", labelNames: ["action"], registers: [registry] }),
    tcpConnections: new Gauge({ name: "dns_tcp_connections", help: "Open DNS TCP connections", registers: [registry] }),
  };
}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const { settings, log } = options;
  const m = metrics(options.registry);
  const rrl = new ResponseRateLimiter(settings.rrl);
  const responderOptions = { maxUdpPayload: settings.maxUdpPayload };

  // Encoded replies by query bytes (everything but the id): authoritative data only changes
  // on reload, and re-encoding the same answer with dns-packet costs more than the lookup.
  let cacheZones: ZoneSet | undefined;
  const replies = new Map<string, Reply>();
  const cached = (message: Buffer, transport: Transport): Reply | undefined => {
    const zones = options.zones();
    if (zones !== cacheZones) {
      replies.clear();
      cacheZones = zones;
    }
    const key = transport + message.toString("latin1", 2);
    let reply = replies.get(key);
    if (!reply) {
      reply = respond(message, zones, transport, responderOptions);
      if (!reply) return undefined;
      if (replies.size >= 10_000) replies.clear();
      replies.set(key, reply);
    }
    const id = message.readUInt16BE(0);
    const withId = (buf: Buffer) => {
      const copy = Buffer.from(buf);
      copy.writeUInt16BE(id, 0);
      return copy;
    };
    const base = reply;
    return { message: withId(base.message), rcode: base.rcode, rrlKey: base.rrlKey, truncated: () => withId(base.truncated()) };
  };

  const answer = (message: Buffer, transport: Transport): Reply | undefined => {
    try {
      return message.length >= 12 ? cached(message, transport) : undefined;
    } catch (error) {
      // A bug, not bad input (respond() handles that): keep serving, but say so loudly.
      log.error({ err: error, transport }, "DNS responder failed");
      m.dropped.inc({ reason: "internal-error" });
      return undefined;
    }
  };

  const family = options.host.includes(":") ? "udp6" : "udp4";
  const udp = createSocket({ type: family });
  udp.on("message", (message, peer) => {
    const reply = answer(message, "udp");
    if (!reply) return void m.dropped.inc({ reason: "malformed" });
    const action = rrl.decide(peer.address, reply.rrlKey);
    if (action === "drop") return void m.rrl.inc({ action });
    const out = action === "slip" ? reply.truncated() : reply.message;
    if (action === "slip") m.rrl.inc({ action });
    m.queries.inc({ transport: "udp", rcode: reply.rcode });
    udp.send(out, peer.port, peer.address);
  });
  udp.on("error", (error) => log.error({ err: error }, "DNS UDP socket error"));

  const tcp = createServer({ noDelay: true }, (socket) => serveTcp(socket));
  tcp.maxConnections = settings.maxTcpConnections;
  tcp.on("error", (error) => log.error({ err: error }, "DNS TCP server error"));

  function serveTcp(socket: Socket): void {
    m.tcpConnections.inc();
    socket.setTimeout(settings.tcpIdleTimeoutMs, () => socket.destroy());
    socket.on("error", () => socket.destroy());
    socket.on("close", () => m.tcpConnections.dec());
    let pending: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const reply = length === 0 ? undefined : answer(message, "tcp");
        if (!reply) {
          // A TCP peer sending garbage gets its connection closed (RFC 7766 §6.2.4 allows it).
          m.dropped.inc({ reason: "malformed" });
          socket.destroy();
          return;
        }
        m.queries.inc({ transport: "tcp", rcode: reply.rcode });
        const prefix = Buffer.allocUnsafe(2);
        prefix.writeUInt16BE(reply.message.length, 0);
        socket.write(Buffer.concat([prefix, reply.message]));
      }
      if (pending.length > MAX_TCP_MESSAGE + 2) socket.destroy();
    });
  }

  const port = await listenBoth(udp, tcp, options.host, options.port);
  log.info({ host: options.host, port, zones: options.zones().origins }, "DNS server listening (udp+tcp)");
  return {
    port,
    udp,
    tcp,
    close: async () => {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

/** Binds TCP, then UDP on the port TCP got (so port 0 gives one port for both). */
async function listenBoth(udp: UdpSocket, tcp: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen({ host, port, backlog: 1024 }, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const bound = (tcp.address() as { port: number }).port;
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(bound, host, () => {
      udp.off("error", reject);
      resolve();
    });
  });
  return bound;
}
