/**
 * Response rate limiting (the RRL of BIND/NSD/Knot, simplified): an attacker spoofing a
 * victim's address makes us send the same answer to that network over and over, so we
 * count identical answers per client network and, past the rate, drop them, except every
 * `slip`-th which goes out truncated (tiny, and a real client behind it retries over TCP,
 * where spoofing is impossible). Hand-written: no npm package implements DNS RRL, and a
 * general rate limiter's promise-per-call API costs more than the query itself.
 */
export type RrlAction = "send" | "drop" | "slip";

interface Bucket {
  tokens: number;
  updated: number;
  limited: number;
}

export interface RrlOptions {
  readonly responsesPerSecond: number;
  readonly slip: number;
  readonly ipv4PrefixLength: number;
  /** Client network prefix for IPv6 addresses (of their 16 bytes). @default 56 */
  readonly ipv6PrefixLength?: number;
  /** Most buckets kept; beyond it the table is swept of full buckets. @default 100000 */
  readonly maxEntries?: number;
}

/** A client network: the masked IPv4 address as a number, the masked IPv6 address as a string of 8 code units. */
type NetworkId = number | string;

export class ResponseRateLimiter {
  /**
   * Answer (the responder's rrlKey, one string per cached reply) → client network → bucket:
   * no string is built per answer to find a bucket.
   */
  private readonly buckets = new Map<string, Map<NetworkId, Bucket>>();
  private count = 0;
  private readonly mask: number;
  private readonly v6Prefix: number;
  /** The 16 bytes of the IPv6 address being grouped (reused: this runs for every UDP answer). */
  private readonly v6 = new Uint8Array(16);

  constructor(
    private readonly options: RrlOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.mask = options.ipv4PrefixLength === 0 ? 0 : (~0 << (32 - options.ipv4PrefixLength)) >>> 0;
    this.v6Prefix = options.ipv6PrefixLength ?? 56;
  }

  /**
   * The network a client address belongs to: 192.0.2.7 → 192.0.2.0 (the IPv4 prefix), an
   * IPv6 address → the hex of the prefix of its 16 bytes (2001:db8::1 and 2001:db8:0:0::1 are
   * one client), an IPv4 client on a dual-stack socket (::ffff:192.0.2.7) → its IPv4 network.
   */
  network(address: string): string {
    const id = this.networkId(address);
    if (typeof id === "number") return `${id >>> 24}.${(id >>> 16) & 255}.${(id >>> 8) & 255}.${id & 255}`;
    if (id.length !== 8) return id;
    let hex = "";
    for (let i = 0; i < 8; i++) hex += id.charCodeAt(i).toString(16).padStart(4, "0");
    return hex;
  }

  /** As `network`, but an IPv6 prefix is 8 UTF-16 code units (its masked 16 bytes): one string made per answer, not 8. */
  private networkId(address: string): NetworkId {
    if (!address.includes(":")) return this.ipv4Network(address, 0);
    const b = parseIpv6(address, this.v6);
    if (!b) return address; // not an address node hands us; its own bucket
    if (isV4Mapped(b)) return this.ipv4Network(address, address.lastIndexOf(":") + 1);
    const whole = this.v6Prefix >> 3;
    const rest = this.v6Prefix & 7;
    if (rest > 0) b[whole] = b[whole]! & (0xff << (8 - rest));
    b.fill(0, rest > 0 ? whole + 1 : whole);
    return String.fromCharCode(
      (b[0]! << 8) | b[1]!,
      (b[2]! << 8) | b[3]!,
      (b[4]! << 8) | b[5]!,
      (b[6]! << 8) | b[7]!,
      (b[8]! << 8) | b[9]!,
      (b[10]! << 8) | b[11]!,
      (b[12]! << 8) | b[13]!,
      (b[14]! << 8) | b[15]!,
    );
  }

  /** The IPv4 network of the dotted quad at `start`. Parsed by hand: split/map/join made four arrays' worth of garbage per answer. */
  private ipv4Network(address: string, start: number): number {
    let value = 0;
    let octet = 0;
    for (let i = start; i < address.length; i++) {
      const c = address.charCodeAt(i);
      if (c === 46) {
        value = (value << 8) | octet;
        octet = 0;
      } else octet = octet * 10 + (c - 48);
    }
    return (((value << 8) | octet) & this.mask) >>> 0;
  }

  decide(address: string, key: string): RrlAction {
    const rate = this.options.responsesPerSecond;
    if (rate === 0) return "send";
    const network = this.networkId(address);
    const now = this.now();
    let bucket = this.buckets.get(key)?.get(network);
    if (!bucket) {
      if (this.count >= (this.options.maxEntries ?? 100_000)) this.sweep(now);
      let byNetwork = this.buckets.get(key);
      if (!byNetwork) this.buckets.set(key, (byNetwork = new Map()));
      bucket = { tokens: rate, updated: now, limited: 0 };
      byNetwork.set(network, bucket);
      this.count++;
    }
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.updated) / 1000) * rate);
    bucket.updated = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return "send";
    }
    bucket.limited += 1;
    return this.options.slip > 0 && bucket.limited % this.options.slip === 0 ? "slip" : "drop";
  }

  private sweep(now: number): void {
    const rate = this.options.responsesPerSecond;
    for (const [key, byNetwork] of this.buckets) {
      for (const [network, b] of byNetwork) {
        if (b.tokens + ((now - b.updated) / 1000) * rate >= rate) {
          byNetwork.delete(network);
          this.count--;
        }
      }
      if (byNetwork.size === 0) this.buckets.delete(key);
    }
    // Still full (a flood from many networks): start over rather than grow without bound.
    if (this.count >= (this.options.maxEntries ?? 100_000)) {
      this.buckets.clear();
      this.count = 0;
    }
  }

  get size(): number {
    return this.count;
  }
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * The 16 bytes of an IPv6 address in any spelling (RFC 4291 §2.2: leading zeros, one "::",
 * a trailing dotted quad, a "%zone"), written into `out`; undefined if it is not one.
 * By hand because node has no parser that yields the bytes, and this runs per UDP answer.
 */
export function parseIpv6(address: string, out: Uint8Array): Uint8Array | undefined {
  const zone = address.indexOf("%");
  const end = zone < 0 ? address.length : zone;
  out.fill(0);
  let n = 0; // bytes written
  let gap = -1; // byte index where "::" stands
  let i = 0;
  if (address.charCodeAt(0) === 58 && address.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (n >= 16) return undefined;
    let value = 0;
    let digits = 0;
    const start = i;
    for (; i < end && digits <= 4; i++) {
      const c = address.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
    }
    if (i < end && address.charCodeAt(i) === 46) {
      // A dotted quad: the last 4 bytes.
      if (n > 12) return undefined;
      const quad = address.slice(start, end).split(".");
      if (quad.length !== 4) return undefined;
      for (const part of quad) {
        const octet = /^\d{1,3}$/.test(part) ? Number(part) : 256;
        if (octet > 255) return undefined;
        out[n++] = octet;
      }
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return undefined;
    out[n++] = value >> 8;
    out[n++] = value & 255;
    if (i === end) break;
    if (address.charCodeAt(i) !== 58) return undefined;
    i++;
    if (address.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined;
      gap = n;
      i++;
    } else if (i === end) return undefined; // a trailing single ":"
  }
  if (gap < 0) return n === 16 ? out : undefined;
  if (n === 16) return undefined; // "::" must stand for at least one group
  // Move what followed "::" to the end.
  const tail = n - gap;
  out.copyWithin(16 - tail, gap, n);
  out.fill(0, gap, 16 - tail);
  return out;
}
