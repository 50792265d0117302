/**
 * The DNS listeners: one UDP socket and one TCP server on the same port (53 in the
 * datacenter). UDP answers go through response rate limiting; TCP (RFC 7766) takes
 * length-prefixed messages, several per connection, answered in order, and closes idle
 * or misbehaving connections without disturbing anyone else.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup as dnsLookup } from "node:dns";
import { createServer, type Server, type Socket } from "node:net";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../../runtime/log";
import type { DnsSettings } from "../../../contracts/settings/dns";
import type { Transport } from "./responder";
import { ReplyCache, type Answer, type CacheCounts } from "./replyCache";
import { ResponseRateLimiter } from "./rrl";
import type { ZoneSet } from "./zones";
import { AddressCap } from "../../runtime/addressCap";

export interface DnsServerOptions {
  readonly host: string;
  /** 0 picks a free port (the same for UDP and TCP). */
  readonly port: number;
  readonly settings: DnsSettings;
  readonly zones: () => ZoneSet;
  readonly log: Logger;
  readonly registry: Registry;
  /** Open TCP connections per client address. @default TCP_PER_ADDRESS */
  readonly tcpPerAddress?: number;
}

export interface DnsServer {
  readonly port: number;
  readonly udp: UdpSocket;
  readonly tcp: Server;
  close(): Promise<void>;
}

/** Answers queued for one TCP client beyond which its queries are no longer read. */
export const TCP_WRITE_HIGH_WATER = 64 * 1024;
/** Open TCP connections per client address (beyond: closed at once). */
export const TCP_PER_ADDRESS = 16;

/**
 * Length-prefixed TCP messages (RFC 1035 §4.2.2) from a stream of chunks. Chunks are joined
 * only once a whole prefix or message is there, so a message arriving a byte at a time costs
 * linear time; what is held is at most one message (64 KiB) plus the last chunk.
 */
class MessageReader {
  private parts: Buffer[] = [];
  private held = 0;

  push(chunk: Buffer): void {
    this.parts.push(chunk);
    this.held += chunk.length;
  }

  private take(n: number): Buffer | undefined {
    if (this.held < n) return undefined;
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held);
    this.parts = all.length > n ? [all.subarray(n)] : [];
    this.held -= n;
    return all.subarray(0, n);
  }

  /** The next complete message, or undefined until one has arrived. */
  next(): Buffer | undefined {
    if (this.held < 2) return undefined;
    const first = this.parts[0]!;
    const length = first.length >= 2 ? first.readUInt16BE(0) : Buffer.concat(this.parts.slice(0, 2)).readUInt16BE(0);
    if (this.held < 2 + length) return undefined;
    return this.take(2 + length)!.subarray(2);
  }
}

/**
 * dgram resolves the address of every send with dns.lookup (a regex test and a nextTick per
 * reply). A reply goes to the address its query came from, already an IP literal: while
 * `replyTo` holds that very string the lookup is the identity; anything else (the bind
 * address) goes to dns.lookup as before.
 */
function replyLookup(isReply: (address: string) => boolean, version: 4 | 6) {
  return (address: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void => {
    if (isReply(address)) return callback(null, address, version);
    dnsLookup(address, { family: version }, callback);
  };
}

function metrics(registry: Registry, cache: CacheCounts) {
  // Answers are counted in plain numbers on the hot path (prom-client hashes the label set
  // on every inc) and handed over when the registry is scraped.
  const answered = { udp: new Map<string, number>(), tcp: new Map<string, number>() };
  return {
    count(transport: Transport, rcode: string): void {
      const counts = answered[transport];
      counts.set(rcode, (counts.get(rcode) ?? 0) + 1);
    },
    queries: new Counter({
      name: "dns_queries_total",
      help: "DNS messages answered, by transport and rcode",
      labelNames: ["transport", "rcode"],
      registers: [registry],
      collect() {
        this.reset();
        for (const transport of ["udp", "tcp"] as const) for (const [rcode, n] of answered[transport]) this.inc({ transport, rcode }, n);
      },
    }),
    cache: new Counter({
      name: "dns_reply_cache_total",
      help: "Queries answered from the reply cache (hit), encoded and cached (miss), or answered uncached (uncacheable)",
      labelNames: ["result"],
      registers: [registry],
      collect() {
        this.reset();
        for (const result of ["hit", "miss", "uncacheable"] as const) this.inc({ result }, cache[result]);
      },
    }),
    dropped: new Counter({ name: "dns_dropped_total", help: "DNS messages not answered, by reason", labelNames: ["reason"], registers: [registry] }),
    rrl: new Counter({ name: "dns_rrl_limited_total", help: "UDP responses limited by RRL, by action", labelNames: ["action"], registers: [registry] }),
    tcpConnections: new Gauge({ name: "dns_tcp_connections", help: "Open DNS TCP connections", registers: [registry] }),
  };
}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const { settings, log } = options;
  const rrl = new ResponseRateLimiter(settings.rrl);
  const cache = new ReplyCache(settings.maxUdpPayload);
  const m = metrics(options.registry, cache.counts);

  const answer = (message: Buffer, transport: Transport): Answer | undefined => {
    try {
      return message.length >= 12 ? cache.answer(message, options.zones(), transport) : undefined;
    } catch (error) {
      // A bug, not bad input (respond() handles that): keep serving, but say so loudly.
      log.error({ err: error, transport }, "DNS responder failed");
      m.dropped.inc({ reason: "internal-error" });
      return undefined;
    }
  };

  const family = options.host.includes(":") ? "udp6" : "udp4";
  let replyTo: string | undefined;
  const udp = createSocket({ type: family, lookup: replyLookup((address) => address === replyTo, family === "udp4" ? 4 : 6) });
  udp.on("message", (message, peer) => {
    // Source port 0 cannot be answered (dgram's send throws for it, which used to end the
    // process: one spoofed datagram took the server down).
    if (peer.port === 0) return void m.dropped.inc({ reason: "source-port-0" });
    const reply = answer(message, "udp");
    if (!reply) return void m.dropped.inc({ reason: "malformed" });
    const action = rrl.decide(peer.address, reply.rrlKey);
    if (action === "drop") return void m.rrl.inc({ action });
    const out = action === "slip" ? reply.slip(message) : reply.reply(message);
    if (action === "slip") m.rrl.inc({ action });
    m.count("udp", reply.rcode);
    replyTo = peer.address;
    udp.send(out, peer.port, peer.address);
    replyTo = undefined;
  });
  udp.on("error", (error) => log.error({ err: error }, "DNS UDP socket error"));

  const tcp = createServer({ noDelay: true }, (socket) => serveTcp(socket));
  tcp.maxConnections = settings.maxTcpConnections;
  tcp.on("error", (error) => log.error({ err: error }, "DNS TCP server error"));

  const perAddress = new AddressCap(options.tcpPerAddress ?? TCP_PER_ADDRESS);

  function serveTcp(socket: Socket): void {
    socket.on("error", () => socket.destroy());
    const release = perAddress.acquire(socket.remoteAddress);
    if (!release) {
      m.dropped.inc({ reason: "tcp-per-address" });
      socket.destroy();
      return;
    }
    m.tcpConnections.inc();
    // The idle timer restarts only when a complete query has been answered: bytes of a
    // message that never completes, or queries sent while reading is paused (the client is
    // not reading its answers), do not keep the connection open.
    const idle = setTimeout(() => socket.destroy(), settings.tcpIdleTimeoutMs);
    socket.on("close", () => {
      clearTimeout(idle);
      release();
      m.tcpConnections.dec();
    });
    const input = new MessageReader();
    let waitingForDrain = false;
    const work = () => {
      for (;;) {
        // Backpressure: answers the client has not read stay bounded; its queries wait in
        // the kernel (reading paused) until it reads (RFC 7766 §6.2.4 allows not reading).
        if (socket.writableLength > TCP_WRITE_HIGH_WATER) {
          if (!waitingForDrain) {
            waitingForDrain = true;
            socket.pause();
            socket.once("drain", () => {
              waitingForDrain = false;
              socket.resume();
              work();
            });
          }
          return;
        }
        const message = input.next();
        if (message === undefined) break;
        const reply = message.length === 0 ? undefined : answer(message, "tcp");
        if (!reply) {
          // A TCP peer sending garbage gets its connection closed (RFC 7766 §6.2.4 allows it).
          m.dropped.inc({ reason: "malformed" });
          socket.destroy();
          return;
        }
        m.count("tcp", reply.rcode);
        idle.refresh();
        const body = reply.reply(message);
        const framed = Buffer.allocUnsafe(2 + body.length);
        framed.writeUInt16BE(body.length, 0);
        body.copy(framed, 2);
        socket.write(framed);
      }
    };
    socket.on("data", (chunk: Buffer) => {
      input.push(chunk);
      if (!waitingForDrain) work();
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
