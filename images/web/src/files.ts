/**
 * What the server knows about a file: size, validators (ETag, Last-Modified), content
 * type, and for small files the bytes themselves plus their gzip and brotli forms, made
 * once on first demand. Entries are re-checked against the disk at most once a second,
 * so an edited file is served fresh within a second without a stat per request.
 */
import { readFile, stat } from "node:fs/promises";
import { extname } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { contentType } from "mime-types";

export type Encoding = "br" | "gzip" | "identity";

export interface FileEntry {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
  readonly lastModified: string;
  readonly type: string;
  readonly compressible: boolean;
  /** Present for files up to the cache size limit. */
  readonly body?: Buffer;
  readonly encoded: Partial<Record<Exclude<Encoding, "identity">, Buffer>>;
  checkedAt: number;
  ino: number;
  /**
   * Headers of the common answers, made once (handler.ts): a 200 of the whole body held in
   * memory, by the site's cache-control, then by encoding (handler.ts `plainHeaders` numbers
   * the variants). A changed file is a new entry, so they never outlive its validators.
   */
  readonly plain: Map<string, (readonly string[] | undefined)[]>;
}

const COMPRESSIBLE = /^(text\/|application\/(javascript|json|xml|wasm|manifest\+json|ld\+json|rss\+xml|atom\+xml)|image\/svg\+xml)/;
const RECHECK_MS = 1000;

export interface FileCacheOptions {
  readonly maxFileBytes: number;
  /** Most entries kept; the oldest are evicted past it. @default 10000 */
  readonly maxEntries?: number;
}

export class FileCache {
  private readonly entries = new Map<string, FileEntry>();

  constructor(private readonly options: FileCacheOptions) {}

  /** The entry when it was checked against the disk within the last second (no I/O, no promise). */
  peek(path: string): FileEntry | undefined {
    const cached = this.entries.get(path);
    return cached && Date.now() - cached.checkedAt < RECHECK_MS ? cached : undefined;
  }

  async get(path: string): Promise<FileEntry> {
    const cached = this.entries.get(path);
    const now = Date.now();
    if (cached && now - cached.checkedAt < RECHECK_MS) return cached;
    const info = await stat(path);
    if (cached && info.mtimeMs === cached.mtimeMs && info.size === cached.size && info.ino === cached.ino) {
      cached.checkedAt = now;
      return cached;
    }
    const type = contentType(extname(path)) || "application/octet-stream";
    const body = info.size <= this.options.maxFileBytes ? await readFile(path) : undefined;
    const entry: FileEntry = {
      path,
      size: body?.length ?? info.size,
      mtimeMs: info.mtimeMs,
      // Size and mtime, like nginx: cheap, and changes whenever the content does in practice.
      etag: `"${Math.floor(info.mtimeMs).toString(16)}-${info.size.toString(16)}"`,
      lastModified: new Date(Math.floor(info.mtimeMs / 1000) * 1000).toUTCString(),
      type,
      compressible: COMPRESSIBLE.test(type),
      ...(body ? { body } : {}),
      encoded: {},
      plain: new Map(),
      checkedAt: now,
      ino: info.ino,
    };
    if (this.entries.size >= (this.options.maxEntries ?? 10_000)) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(path, entry);
    return entry;
  }

  /** The cached encoded body (made now if needed), or undefined for files not held in memory. */
  encodedBody(entry: FileEntry, encoding: Exclude<Encoding, "identity">): Buffer | undefined {
    if (!entry.body) return undefined;
    let buf = entry.encoded[encoding];
    if (!buf) {
      buf =
        encoding === "br"
          ? brotliCompressSync(entry.body, { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: entry.body.length } })
          : gzipSync(entry.body, { level: 9 });
      entry.encoded[encoding] = buf;
    }
    return buf;
  }
}

/** Picks br, then gzip, by the client's Accept-Encoding q-values; identity otherwise. */
export function negotiateEncoding(header: string | undefined): Encoding {
  if (!header) return "identity";
  let best: Encoding = "identity";
  let bestQ = 0;
  for (const part of header.split(",")) {
    const [token, ...params] = part.trim().toLowerCase().split(";");
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    const enc: Encoding | undefined = token === "br" ? "br" : token === "gzip" || token === "x-gzip" ? "gzip" : token === "*" ? "br" : undefined;
    if (!enc) continue;
    // Ties go to brotli: smaller for the same q.
    if (q > bestQ || (q === bestQ && enc === "br")) {
      best = enc;
      bestQ = q;
    }
  }
  return best;
}
