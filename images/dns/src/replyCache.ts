/**
 * Encoded replies for reuse. Authoritative data only changes on reload, and encoding an answer
 * with dns-packet costs far more than finding it again, so a plain query (one question, at
 * most an OPT record) is answered from a cached reply: a cheap scan of its header and question
 * finds the key, the reply's bytes are copied and the query's id and name, as spelled, are
 * written in. The key holds the name lower-cased: resolvers that randomise the case of the
 * names they ask (DNS 0x20) hit the same entry, and each still gets its own spelling back in
 * the question and in the answers' owner names. Anything else (malformed, other opcodes,
 * several records) goes to the responder uncached, as does a reply that does not echo the
 * question byte for byte (a name dns-packet re-encodes differently).
 */
import { randomBytes } from "node:crypto";
import { respond, type Reply, type Transport } from "./responder";
import type { ZoneSet } from "./zones";

/** A reply ready to be sent to any query with its key. */
export interface Answer {
  readonly rcode: string;
  readonly rrlKey: string;
  /** A new buffer: the reply to `query`, with its id and name as spelled in it. */
  reply(query: Buffer): Buffer;
  /** The same, truncated and answerless (RRL's "slip"). */
  slip(query: Buffer): Buffer;
}

/** Queries longer than a plain UDP one are not looked up. */
const CACHEABLE_QUERY = 512;
export const MAX_ENTRIES = 10_000;
const MAX_BYTES = 32 * 1024 * 1024;
const HEADER = 12;
const TYPE_OPT = 41;

/** Counts of lookups, by result, for the metrics. */
export interface CacheCounts {
  hit: number;
  miss: number;
  uncacheable: number;
}

/** Which option lengths dns-packet decodes without throwing or reading past the option (ECS, keepalive, tag). */
function optionReadable(code: number, length: number): boolean {
  if (code === 8) return length >= 4;
  if (code === 11) return length === 0 || length >= 2;
  if (code === 14) return length % 2 === 0;
  return true;
}

/**
 * Scans a plain query into `key` (bytes: RD, qtype, qclass, OPT present, its payload size and
 * version, then the lower-cased name) and returns the key's length, or 0 when the message is
 * not a plain query; `hash` is the key's hash, `nameEnd` where the question's name ends (it
 * starts at 12).
 */
export class QueryScanner {
  readonly key = Buffer.alloc(CACHEABLE_QUERY);
  hash = 0;
  nameEnd = 0;
  /** Per process, so that which names share a hash cannot be worked out from outside. */
  private readonly seed = randomBytes(4).readUInt32LE(0);

  scan(m: Buffer): number {
    const length = m.length;
    if (length < HEADER + 5 || length > CACHEABLE_QUERY) return 0;
    // QR=0, opcode QUERY; one question, no answers or authorities, at most one additional.
    if ((m[2]! & 0xf8) !== 0 || m[4] !== 0 || m[5] !== 1 || m[6]! | m[7]! | m[8]! | m[9]! | m[10]!) return 0;
    const additionals = m[11]!;
    if (additionals > 1) return 0;
    const key = this.key;
    let hash = this.seed;
    let k = 9;
    let i = HEADER;
    for (;;) {
      const label = m[i]!;
      key[k++] = label;
      hash = Math.imul(hash ^ label, 0x01000193);
      i++;
      if (label === 0) break;
      if (label > 63 || i + label >= length) return 0; // compression (never in a question we cache), or past the end
      for (const end = i + label; i < end; i++) {
        const c = m[i]! >= 65 && m[i]! <= 90 ? m[i]! + 32 : m[i]!;
        key[k++] = c;
        hash = Math.imul(hash ^ c, 0x01000193);
      }
    }
    if (i > HEADER + 255 || i + 4 > length) return 0;
    this.nameEnd = i;
    key[0] = m[2]! & 1; // RD: echoed
    key[1] = m[i]!;
    key[2] = m[i + 1]!;
    key[3] = m[i + 2]!;
    key[4] = m[i + 3]!;
    i += 4;
    if (additionals === 0) {
      if (i !== length) return 0;
      key[5] = key[6] = key[7] = key[8] = 0;
    } else {
      // The OPT record: root name, type 41, class = payload size, TTL = extended rcode, version, flags.
      if (i + 11 > length || m[i] !== 0 || m[i + 1] !== 0 || m[i + 2] !== TYPE_OPT) return 0;
      key[5] = 1;
      key[6] = m[i + 3]!;
      key[7] = m[i + 4]!;
      key[8] = m[i + 6]!; // version; the extended rcode, DO and the options do not change our answer
      const rdEnd = i + 11 + ((m[i + 9]! << 8) | m[i + 10]!);
      if (rdEnd !== length) return 0;
      for (let o = i + 11; o < rdEnd;) {
        if (o + 4 > rdEnd) return 0;
        const optionLength = (m[o + 2]! << 8) | m[o + 3]!;
        if (!optionReadable((m[o]! << 8) | m[o + 1]!, optionLength)) return 0;
        o += 4 + optionLength;
        if (o > rdEnd) return 0;
      }
    }
    for (let j = 0; j < 9; j++) hash = Math.imul(hash ^ key[j]!, 0x01000193);
    this.hash = hash;
    return k;
  }
}

/** Offsets in `reply` of the answer records' owner names equal to the question's name (12..nameEnd). */
function echoOffsets(reply: Buffer, nameEnd: number): number[] | undefined {
  const nameLength = nameEnd - HEADER;
  const offsets = [HEADER];
  const answers = reply.readUInt16BE(6);
  let o = nameEnd + 4;
  for (let n = 0; n < answers; n++) {
    if (o + nameLength <= reply.length && reply.compare(reply, HEADER, nameEnd, o, o + nameLength) === 0) offsets.push(o);
    for (let label = reply[o]; label !== 0; label = reply[o]) {
      if (label === undefined || label > 63) return undefined; // dns-packet never compresses; anything else is not ours to patch
      o += 1 + label;
    }
    o += 1 + 8;
    if (o + 2 > reply.length) return undefined;
    o += 2 + reply.readUInt16BE(o);
  }
  return o <= reply.length ? offsets : undefined;
}

/** Does `reply` carry exactly the question of `query` (same name bytes) at the start? */
function echoesQuestion(reply: Buffer, query: Buffer, nameEnd: number): boolean {
  return reply.length >= nameEnd + 4 && reply.readUInt16BE(4) === 1 && reply.compare(query, HEADER, nameEnd + 4, HEADER, nameEnd + 4) === 0;
}

/**
 * `template` copied, with the id of `query` and its name (12..nameEnd) as spelled written at
 * each offset. Bytes by hand: Buffer#copy's argument checks cost more than a name's ~20 bytes.
 */
function patched(template: Buffer, query: Buffer, offsets: readonly number[], nameEnd: number): Buffer {
  const out = Buffer.allocUnsafe(template.length);
  out.set(template);
  out[0] = query[0]!;
  out[1] = query[1]!;
  for (const at of offsets) for (let i = HEADER, o = at; i < nameEnd; i++, o++) out[o] = query[i]!;
  return out;
}

class CachedAnswer implements Answer {
  private truncated: Buffer | undefined;
  private truncatedOffsets: readonly number[] = [];
  /** Answered from the cache since the eviction hand last passed it (CLOCK's reference bit). */
  used = false;
  /** What the entry holds, for the cache's byte bound. */
  get cost(): number {
    return this.key.length + this.source.message.length + this.lowered.length;
  }

  constructor(
    private readonly key: Buffer,
    private readonly source: Reply,
    private readonly offsets: readonly number[],
    private readonly nameEnd: number,
    private readonly lowered: Buffer,
  ) {}

  hasKey(key: Buffer, length: number): boolean {
    if (length !== this.key.length) return false;
    for (let i = 0; i < length; i++) if (key[i] !== this.key[i]) return false;
    return true;
  }

  get rcode(): string {
    return this.source.rcode;
  }

  get rrlKey(): string {
    return this.source.rrlKey;
  }

  get size(): number {
    return this.source.message.length;
  }

  reply(query: Buffer): Buffer {
    return patched(this.source.message, query, this.offsets, this.nameEnd);
  }

  slip(query: Buffer): Buffer {
    if (!this.truncated) {
      this.truncated = this.source.truncated();
      this.truncatedOffsets = echoesQuestion(this.truncated, this.lowered, this.nameEnd) ? [HEADER] : [];
    }
    return patched(this.truncated, query, this.truncatedOffsets, this.nameEnd);
  }
}

/** A reply to one query only (not cached): the responder's bytes as they are. */
function uncached(source: Reply): Answer {
  return {
    rcode: source.rcode,
    rrlKey: source.rrlKey,
    reply: () => source.message,
    slip: () => source.truncated(),
  };
}

export class ReplyCache {
  private readonly scanner = new QueryScanner();
  /**
   * One map per transport (the answers differ: no truncation over TCP), by the key's hash: no
   * key string is made per query. Two keys with one hash share a slot, the later one wins.
   */
  private readonly entries = { udp: new Map<number, CachedAnswer>(), tcp: new Map<number, CachedAnswer>() };
  private bytes = 0;
  private zones: ZoneSet | undefined;
  readonly counts: CacheCounts = { hit: 0, miss: 0, uncacheable: 0 };

  constructor(private readonly maxUdpPayload: number) {}

  /** The answer to `message` with `zones`, or undefined when it must be dropped. */
  answer(message: Buffer, zones: ZoneSet, transport: Transport): Answer | undefined {
    if (zones !== this.zones) {
      this.clear();
      this.zones = zones;
    }
    const keyLength = this.scanner.scan(message);
    if (keyLength === 0) return this.respondUncached(message, zones, transport);
    const scanner = this.scanner;
    const map = this.entries[transport];
    const hit = map.get(scanner.hash);
    if (hit?.hasKey(scanner.key, keyLength)) {
      this.counts.hit++;
      hit.used = true;
      return hit;
    }
    const { hash, nameEnd } = scanner;
    const key = Buffer.from(scanner.key.subarray(0, keyLength));
    // Answer the lower-cased question: the reply then holds the name in one spelling, and
    // every query with this key gets its own written over it.
    const lowered = Buffer.from(message);
    for (let i = HEADER; i < nameEnd; i++) {
      const c = lowered[i]!;
      if (c >= 65 && c <= 90) lowered[i] = c + 32;
    }
    const reply = respond(lowered, zones, transport, { maxUdpPayload: this.maxUdpPayload });
    if (!reply) return undefined;
    const offsets = echoesQuestion(reply.message, lowered, nameEnd) ? echoOffsets(reply.message, nameEnd) : undefined;
    if (!offsets) return this.respondUncached(message, zones, transport);
    this.counts.miss++;
    const entry = new CachedAnswer(key, reply, offsets, nameEnd, lowered);
    const replaced = map.get(hash);
    if (replaced) this.bytes -= replaced.cost;
    map.set(hash, entry);
    this.bytes += entry.cost;
    this.evict(map);
    return entry;
  }

  /**
   * Within the bounds again, oldest first, but an entry answered since the hand last passed
   * gets a second chance (CLOCK): a flood of new names (random names are cacheable NXDOMAINs)
   * then evicts the flood's own entries, not the names clients keep asking for. Emptying the
   * whole cache instead let such a flood keep every answer uncached. Not an LRU: a hit costs
   * one store, not a Map delete and insert.
   */
  private evict(inserted: Map<number, CachedAnswer>): void {
    while (this.entries.udp.size + this.entries.tcp.size > MAX_ENTRIES || this.bytes > MAX_BYTES) {
      const map = inserted.size > 1 ? inserted : inserted === this.entries.udp ? this.entries.tcp : this.entries.udp;
      const [hash, oldest] = map.entries().next().value as [number, CachedAnswer];
      map.delete(hash);
      if (oldest.used && map.size > 0) {
        oldest.used = false;
        map.set(hash, oldest);
      } else this.bytes -= oldest.cost;
    }
  }

  private respondUncached(message: Buffer, zones: ZoneSet, transport: Transport): Answer | undefined {
    this.counts.uncacheable++;
    const reply = respond(message, zones, transport, { maxUdpPayload: this.maxUdpPayload });
    return reply && uncached(reply);
  }

  private clear(): void {
    this.entries.udp.clear();
    this.entries.tcp.clear();
    this.bytes = 0;
  }
}
