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
  /** Most buckets kept; beyond it the table is swept of full buckets. @default 100000 */
  readonly maxEntries?: number;
}

export class ResponseRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly mask: number;

  constructor(
    private readonly options: RrlOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.mask = options.ipv4PrefixLength === 0 ? 0 : (~0 << (32 - options.ipv4PrefixLength)) >>> 0;
  }

  /** The network a client address belongs to, e.g. 192.0.2.7 → 192.0.2.0 (IPv6: the /56). */
  network(address: string): string {
    if (address.includes(":")) return address.split(":").slice(0, 4).join(":");
    // Parsed by hand: this runs for every UDP answer, and split/map/join made four arrays' worth of garbage.
    let value = 0;
    let octet = 0;
    for (let i = 0; i < address.length; i++) {
      const c = address.charCodeAt(i);
      if (c === 46) {
        value = (value << 8) | octet;
        octet = 0;
      } else octet = octet * 10 + (c - 48);
    }
    value = (((value << 8) | octet) & this.mask) >>> 0;
    return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
  }

  decide(address: string, key: string): RrlAction {
    const rate = this.options.responsesPerSecond;
    if (rate === 0) return "send";
    const id = `${this.network(address)}|${key}`;
    const now = this.now();
    let bucket = this.buckets.get(id);
    if (!bucket) {
      if (this.buckets.size >= (this.options.maxEntries ?? 100_000)) this.sweep(now);
      bucket = { tokens: rate, updated: now, limited: 0 };
      this.buckets.set(id, bucket);
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
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((now - b.updated) / 1000) * rate >= rate) this.buckets.delete(id);
    }
    // Still full (a flood from many networks): start over rather than grow without bound.
    if (this.buckets.size >= (this.options.maxEntries ?? 100_000)) this.buckets.clear();
  }

  get size(): number {
    return this.buckets.size;
  }
}
