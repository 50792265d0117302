/**
 * The shared response cache: what may be stored and for how long is decided by
 * http-cache-semantics (Cache-Control, Expires, Vary, Authorization, private/no-store, as
 * a shared cache per RFC 9111); entries live in an LRU bounded by total bytes.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import CachePolicy from "http-cache-semantics";
import { LRUCache } from "lru-cache";

export interface CachedResponse {
  readonly policy: CachePolicy;
  readonly status: number;
  readonly body: Buffer;
}

export function cacheRequest(req: IncomingMessage): CachePolicy.Request {
  return { url: req.url ?? "/", method: req.method ?? "GET", headers: req.headers as CachePolicy.Headers };
}

export class ResponseCache {
  private readonly lru: LRUCache<string, CachedResponse>;

  constructor(
    readonly maxBytes: number,
    readonly maxObjectBytes: number,
  ) {
    this.lru = new LRUCache({ maxSize: Math.max(1, maxBytes), sizeCalculation: (v) => Math.max(1, v.body.length + 512) });
  }

  static key(req: IncomingMessage): string {
    return `${(req.headers.host ?? "").toLowerCase()}\u0000${req.url ?? "/"}`;
  }

  /** A fresh stored response for this request, if any. */
  lookup(req: IncomingMessage): CachedResponse | undefined {
    if (this.maxBytes === 0 || (req.method !== "GET" && req.method !== "HEAD")) return undefined;
    const hit = this.lru.get(ResponseCache.key(req));
    if (!hit) return undefined;
    return hit.policy.satisfiesWithoutRevalidation(cacheRequest(req)) ? hit : undefined;
  }

  /** A policy when the response may be stored (status, headers and size allowing), else undefined. */
  policyFor(req: IncomingMessage, status: number, headers: IncomingHttpHeaders): CachePolicy | undefined {
    if (this.maxBytes === 0 || req.method !== "GET" || status !== 200) return undefined;
    const length = Number(headers["content-length"] ?? NaN);
    if (length > this.maxObjectBytes) return undefined;
    const policy = new CachePolicy(cacheRequest(req), { status, headers: headers as CachePolicy.Headers }, { shared: true });
    return policy.storable() && policy.timeToLive() > 0 ? policy : undefined;
  }

  store(req: IncomingMessage, policy: CachePolicy, status: number, body: Buffer): void {
    if (body.length > this.maxObjectBytes) return;
    this.lru.set(ResponseCache.key(req), { policy, status, body });
  }

  get size(): number {
    return this.lru.calculatedSize ?? 0;
  }
}
