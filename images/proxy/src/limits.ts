/**
 * Per-client limits: a token bucket per client address for requests per second, and one
 * for response bytes per second that a Transform drains (pausing the stream when it runs
 * dry). Hand-written: request limiting must be synchronous on the hot path (the npm
 * limiters return a promise per call), and no maintained package throttles a stream
 * against a bucket shared by all of one client's connections.
 */
import { Transform, type TransformCallback } from "node:stream";

export class TokenBucket {
  private tokens: number;
  private updated = performance.now();

  constructor(
    private readonly rate: number,
    private readonly capacity: number,
  ) {
    this.tokens = capacity;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updated) / 1000) * this.rate);
    this.updated = now;
  }

  /** Takes one token if there is one. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes `n` tokens (going into debt); returns how many ms to wait before going on. */
  take(n: number): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  get full(): boolean {
    this.refill();
    return this.tokens >= this.capacity;
  }
}

/** Buckets by client address, swept of full (idle) buckets so the table cannot grow forever. */
export class BucketTable {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: number,
    private readonly capacity: number,
    private readonly maxEntries = 100_000,
  ) {}

  get(client: string): TokenBucket {
    let bucket = this.buckets.get(client);
    if (!bucket) {
      if (this.buckets.size >= this.maxEntries) {
        for (const [k, b] of this.buckets) if (b.full) this.buckets.delete(k);
        if (this.buckets.size >= this.maxEntries) this.buckets.clear();
      }
      bucket = new TokenBucket(this.rate, this.capacity);
      this.buckets.set(client, bucket);
    }
    return bucket;
  }
}

/** Passes bytes through at the bucket's pace. */
export class Throttle extends Transform {
  constructor(private readonly bucket: TokenBucket) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const wait = this.bucket.take(chunk.length);
    if (wait <= 0) return callback(null, chunk);
    setTimeout(() => callback(null, chunk), wait);
  }
}
