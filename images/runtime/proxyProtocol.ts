/**
 * PROXY protocol (v1 text and v2 binary, as HAProxy specifies it) in front of a listener, for
 * servers behind a load balancer that passes the client's address that way (Hetzner's load
 * balancer with `proxyprotocol`, HAProxy, nginx's `proxy_protocol`). Connections from the
 * trusted addresses (the balancer's) must start with the header; the address it names becomes
 * the connection's client address ({@link clientAddress}): rate limits, logs and
 * X-Forwarded-For see the visitor, not the balancer. Connections from anywhere else carry no
 * header (the datacenter's own probes reach the server directly) and are handed over as they
 * are: a header from an untrusted address is never believed, it is just bytes the HTTP parser
 * refuses.
 *
 * The header is bounded (v1: 107 bytes; v2: 16 + its length, at most 536 here, as the
 * specification recommends receivers cap it) and must arrive within `headerTimeoutMs`, so a
 * client cannot hold a connection open by sending it slowly. Parsing is proxy-protocol-js's;
 * reading the header off the stream is ours (the library parses a complete header, it does
 * not frame one).
 */
import { createServer, isIP, type Server, type Socket } from "node:net";
import { Server as TlsServer } from "node:tls";
import { ProxyProtocolIdentifier, ProxyProtocolVersion, V1ProxyProtocol, V2ProxyProtocol } from "proxy-protocol-js";

/** The client address a PROXY header named, on the connection's socket. */
const CLIENT_ADDRESS = Symbol("serverpark.proxyProtocol.clientAddress");

type Tagged = { [CLIENT_ADDRESS]?: string; remoteAddress?: string; _parent?: Tagged | null };

/**
 * The client's address: the one a trusted balancer's PROXY header named, else the socket's
 * peer. Takes a request's socket, plain or TLS (a TLS socket's `_parent` is the TCP socket the
 * header arrived on).
 */
export function clientAddress(socket: Tagged | undefined | null): string | undefined {
  if (!socket) return undefined;
  return socket[CLIENT_ADDRESS] ?? socket._parent?.[CLIENT_ADDRESS] ?? socket.remoteAddress;
}

export interface ProxyProtocolOptions {
  /** True for a peer address that sends a PROXY header (the load balancer's). */
  readonly trusted: (address: string) => boolean;
  /** Time a trusted peer has to send the whole header. @default 5000 */
  readonly headerTimeoutMs?: number;
  /** Called when a trusted peer's connection is dropped for a bad, oversized or late header. */
  readonly onBadHeader?: (reason: string, peer: string) => void;
}

const V1_MAX = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_MAX = 536;

class BadHeader extends Error {}

/**
 * The header's length in `buf` when it is complete, 0 while more bytes are needed; throws for
 * bytes that cannot start a header or a header past its bound.
 */
function headerLength(buf: Buffer): number {
  if (buf[0] === 0x50 /* "P" */) {
    const end = buf.indexOf("\r\n");
    if (end >= 0 && end + 2 <= V1_MAX) return end + 2;
    if (end >= 0 || buf.length >= V1_MAX) throw new BadHeader("PROXY v1 header longer than 107 bytes");
    if (!"PROXY ".startsWith(buf.subarray(0, 6).toString("latin1"))) throw new BadHeader("not a PROXY header");
    return 0;
  }
  const prefix = buf.subarray(0, Math.min(buf.length, V2_SIGNATURE.length));
  if (!V2_SIGNATURE.subarray(0, prefix.length).equals(prefix)) throw new BadHeader("not a PROXY header");
  if (buf.length < 16) return 0;
  const total = 16 + buf.readUInt16BE(14);
  if (total > V2_MAX) throw new BadHeader(`PROXY v2 header of ${total} bytes (at most ${V2_MAX})`);
  return buf.length >= total ? total : 0;
}

/** The source address of a complete header; undefined for v2 LOCAL and v1 UNKNOWN (the balancer's own health checks). */
function sourceOf(header: Buffer): string | undefined {
  try {
    const version = ProxyProtocolIdentifier.identify(header);
    if (version === ProxyProtocolVersion.V1) {
      const text = header.toString("latin1");
      // "PROXY UNKNOWN" may carry anything up to the line's end: the addresses are ignored.
      if (text.startsWith("PROXY UNKNOWN")) return undefined;
      const source = V1ProxyProtocol.parse(text).source.ipAddress;
      if (isIP(source) === 0) throw new BadHeader(`PROXY v1 source "${source}" is not an IP address`);
      return source;
    }
    if (version === ProxyProtocolVersion.V2) {
      const parsed = V2ProxyProtocol.parse(new Uint8Array(header));
      const address = parsed.proxyAddress as { sourceAddress?: { address: readonly number[] } } | undefined;
      const bytes = address?.sourceAddress?.address;
      if (!bytes) return undefined;
      if (bytes.length === 4) return bytes.join(".");
      if (bytes.length === 16) return Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(":");
      return undefined;
    }
  } catch (error) {
    if (error instanceof BadHeader) throw error;
    throw new BadHeader(`malformed PROXY header: ${(error as Error).message}`);
  }
  throw new BadHeader("not a PROXY header");
}

/**
 * A TCP server that reads the PROXY header of trusted peers, then hands every connection to
 * `target` (an http or https server, which never listens itself) with the rest of its bytes.
 */
export function proxyProtocolServer(target: Server, options: ProxyProtocolOptions): Server {
  const timeoutMs = options.headerTimeoutMs ?? 5000;
  return createServer((socket: Socket) => {
    const peer = (socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    if (!options.trusted(peer)) return void target.emit("connection", socket);
    let buf: Buffer = Buffer.alloc(0);
    const fail = (reason: string) => {
      cleanup();
      options.onBadHeader?.(reason, peer);
      socket.destroy();
    };
    const timer = setTimeout(() => fail(`no complete PROXY header within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let length: number;
      let source: string | undefined;
      try {
        length = headerLength(buf);
        if (length === 0) return;
        source = sourceOf(buf.subarray(0, length));
      } catch (error) {
        return fail((error as Error).message);
      }
      cleanup();
      // Paused, the bytes after the header wait in the socket's buffer for the server: an
      // HTTP server's parser reads them once the socket flows again; a TLS server takes the
      // buffer over when it starts reading (and the socket must not flow before then: the
      // bytes would be emitted to nobody).
      socket.pause();
      if (source) (socket as Tagged)[CLIENT_ADDRESS] = source;
      if (buf.length > length) socket.unshift(buf.subarray(length));
      target.emit("connection", socket);
      if (!(target instanceof TlsServer)) socket.resume();
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("end", onEnd);
    };
    const onError = () => fail("connection error before the PROXY header");
    // A balancer's TCP health check connects and hangs up without a byte: nothing to refuse or log.
    const onEnd = () => {
      if (buf.length > 0) return fail("connection closed inside the PROXY header");
      cleanup();
      socket.destroy();
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("end", onEnd);
  });
}
