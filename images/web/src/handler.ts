/**
 * One HTTP request against the sites: method and host checks, path resolution (see
 * sites.ts), conditional requests (RFC 9110 §13: If-Match, If-Unmodified-Since,
 * If-None-Match, If-Modified-Since in that order), single byte ranges with If-Range,
 * gzip/brotli by Accept-Encoding, and custom error pages.
 */
import { createReadStream } from "node:fs";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { pipeline } from "node:stream";
import { createBrotliCompress, createGzip, constants } from "node:zlib";
import { FileCache, negotiateEncoding, type Encoding, type FileEntry } from "./files";
import { resolvePath, type Resolution, type Site, type SiteTable } from "./sites";

export interface HandlerOptions {
  readonly sites: SiteTable;
  readonly files: FileCache;
  readonly compressMinBytes: number;
  /** Sent as `x-served-by` so operators (and tests) see which replica answered. */
  readonly replica: string;
  /** Called once per finished response with its status and body bytes. */
  readonly onResponse?: (req: IncomingMessage, status: number, bytes: number) => void;
}

const ALLOW = "GET, HEAD, OPTIONS";
const REASONS: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  412: "Precondition Failed",
  416: "Range Not Satisfiable",
  500: "Internal Server Error",
};
/** Resolutions are cached briefly: resolving costs several syscalls, and hot paths repeat. */
const RESOLVE_TTL_MS = 1000;

export function createHandler(options: HandlerOptions) {
  // By site, then by path: the path is the request's own string, so no key is built (and
  // hashed) per request on the hot path.
  const resolved = new Map<Site, Map<string, { at: number; result: Resolution }>>();
  let resolvedCount = 0;
  const resolve = async (site: Site, path: string): Promise<Resolution> => {
    const now = Date.now();
    const hit = resolved.get(site)?.get(path);
    if (hit && now - hit.at < RESOLVE_TTL_MS) return hit.result;
    const result = await resolvePath(site, path);
    if (resolvedCount > 50_000) {
      resolved.clear();
      resolvedCount = 0;
    }
    let bySite = resolved.get(site);
    if (!bySite) resolved.set(site, (bySite = new Map()));
    if (!bySite.has(path)) resolvedCount++;
    bySite.set(path, { at: now, result });
    return result;
  };

  const finish = (req: IncomingMessage, res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body?: Buffer) => {
    res.writeHead(status, { "x-served-by": options.replica, ...headers });
    const bytes = req.method === "HEAD" || !body ? 0 : body.length;
    res.end(req.method === "HEAD" ? undefined : body);
    options.onResponse?.(req, status, bytes);
  };

  const error = async (req: IncomingMessage, res: ServerResponse, site: Site | undefined, status: number, extra: OutgoingHttpHeaders = {}) => {
    const page = site?.errorPages[String(status)];
    if (site && page) {
      const r = await resolve(site, `/${page}`);
      if (r.kind === "file") {
        const entry = await options.files.get(r.path).catch(() => undefined);
        if (entry?.body)
          return finish(
            req,
            res,
            status,
            { "content-type": entry.type, "content-length": entry.body.length, "cache-control": "no-store", ...extra },
            entry.body,
          );
      }
    }
    const body = Buffer.from(`<!doctype html><title>${status} ${REASONS[status] ?? ""}</title><h1>${status} ${REASONS[status] ?? ""}</h1>\n`);
    finish(req, res, status, { "content-type": "text/html; charset=utf-8", "content-length": body.length, "cache-control": "no-store", ...extra }, body);
  };

  /** A fresh cached resolution, without a promise: the hot path of a busy site stays synchronous. */
  const resolvedNow = (site: Site, path: string): Resolution | undefined => {
    const hit = resolved.get(site)?.get(path);
    return hit && Date.now() - hit.at < RESOLVE_TTL_MS ? hit.result : undefined;
  };

  return function handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void {
    const site = options.sites.find(req.headers.host);
    if (req.method !== "GET" && req.method !== "HEAD") {
      if (req.method === "OPTIONS") return finish(req, res, 204, { allow: ALLOW });
      return error(req, res, site, 405, { allow: ALLOW });
    }
    if (!site) return error(req, res, undefined, 404);
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const now = resolvedNow(site, path);
    if (now?.kind === "file") {
      const entry = options.files.peek(now.path);
      if (entry) return serveFile(req, res, site, entry);
    }
    return (async () => {
      const r = now ?? (await resolve(site, path));
      if (r.kind === "error") return error(req, res, site, r.status);
      if (r.kind === "redirect") return finish(req, res, 301, { location: r.location + (q < 0 ? "" : url.slice(q)), "content-length": 0 });
      let entry: FileEntry;
      try {
        entry = await options.files.get(r.path);
      } catch {
        resolved.clear(); // the file vanished since it was resolved
        resolvedCount = 0;
        return error(req, res, site, 404);
      }
      return serveFile(req, res, site, entry);
    })();
  };

  /**
   * Headers of a 200 with the whole body of a file held in memory, in node's flat
   * [name, value, …] form: the same values as serveFile's general path below, made on the
   * first such request for a site's cache-control and an encoding (at most 3 per site).
   */
  function plainHeaders(entry: FileEntry, site: Site, useEncoding: boolean, wanted: Encoding, body: Buffer): readonly string[] {
    // By the site's cache-control (a string made once), then by encoding: no key built per request.
    let variants = entry.plain.get(site.cacheControl);
    if (!variants) {
      if (entry.plain.size >= 4) entry.plain.clear();
      entry.plain.set(site.cacheControl, (variants = []));
    }
    const slot = (wanted === "identity" ? 0 : wanted === "br" ? 2 : 4) + (useEncoding ? 1 : 0);
    let headers = variants[slot];
    if (!headers) {
      const etag = wanted === "identity" ? entry.etag : `${entry.etag.slice(0, -1)}-${wanted === "br" ? "br" : "gz"}"`;
      headers = [
        "x-served-by",
        options.replica,
        "content-type",
        entry.type,
        "etag",
        etag,
        "last-modified",
        entry.lastModified,
        "cache-control",
        site.cacheControl,
      ];
      headers = [...headers, "accept-ranges", "bytes", ...(useEncoding ? ["vary", "Accept-Encoding"] : [])];
      headers = [...headers, ...(wanted === "identity" ? [] : ["content-encoding", wanted]), "content-length", String(body.length)];
      variants[slot] = headers;
    }
    return headers;
  }

  function serveFile(req: IncomingMessage, res: ServerResponse, site: Site, entry: FileEntry): void | Promise<void> {
    const useEncoding = entry.compressible && entry.size >= options.compressMinBytes;
    const h = req.headers;
    const wanted: Encoding = useEncoding && !h.range ? negotiateEncoding(h["accept-encoding"]) : "identity";
    // The hot path: the whole file from memory, no range and no precondition to evaluate.
    const body = entry.body && (wanted === "identity" ? entry.body : options.files.encodedBody(entry, wanted));
    if (
      body &&
      h.range === undefined &&
      h["if-match"] === undefined &&
      h["if-none-match"] === undefined &&
      h["if-modified-since"] === undefined &&
      h["if-unmodified-since"] === undefined
    ) {
      res.writeHead(200, plainHeaders(entry, site, useEncoding, wanted, body) as string[]);
      const head = req.method === "HEAD";
      res.end(head ? undefined : body);
      options.onResponse?.(req, 200, head ? 0 : body.length);
      return;
    }
    const etag = wanted === "identity" ? entry.etag : `${entry.etag.slice(0, -1)}-${wanted === "br" ? "br" : "gz"}"`;
    const headers: OutgoingHttpHeaders = {
      "content-type": entry.type,
      etag,
      "last-modified": entry.lastModified,
      "cache-control": site.cacheControl,
      "accept-ranges": "bytes",
      ...(useEncoding ? { vary: "Accept-Encoding" } : {}),
    };

    const precondition = checkPreconditions(req, entry);
    if (precondition === 412) return error(req, res, site, 412);
    if (precondition === 304)
      return finish(req, res, 304, {
        etag,
        "last-modified": entry.lastModified,
        "cache-control": site.cacheControl,
        ...(useEncoding ? { vary: "Accept-Encoding" } : {}),
      });

    const range = req.method === "GET" ? parseRange(req.headers.range, req.headers["if-range"] as string | undefined, entry) : undefined;
    if (range === "unsatisfiable") return error(req, res, site, 416, { "content-range": `bytes */${entry.size}` });
    if (range) {
      const [start, end] = range;
      const partial = { ...headers, "content-range": `bytes ${start}-${end}/${entry.size}`, "content-length": end - start + 1 };
      if (entry.body) return finish(req, res, 206, partial, entry.body.subarray(start, end + 1));
      return stream(req, res, 206, partial, entry, "identity", start, end);
    }

    if (wanted !== "identity") {
      const body = options.files.encodedBody(entry, wanted);
      if (body) return finish(req, res, 200, { ...headers, "content-encoding": wanted, "content-length": body.length }, body);
      return stream(req, res, 200, { ...headers, "content-encoding": wanted }, entry, wanted, 0, entry.size - 1);
    }
    if (entry.body) return finish(req, res, 200, { ...headers, "content-length": entry.size }, entry.body);
    return stream(req, res, 200, { ...headers, "content-length": entry.size }, entry, "identity", 0, entry.size - 1);
  }

  function stream(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    headers: OutgoingHttpHeaders,
    entry: FileEntry,
    encoding: Encoding,
    start: number,
    end: number,
  ): void {
    res.writeHead(status, { "x-served-by": options.replica, ...headers });
    if (req.method === "HEAD" || entry.size === 0) {
      res.end();
      options.onResponse?.(req, status, 0);
      return;
    }
    const source = createReadStream(entry.path, { start, end, highWaterMark: 64 * 1024 });
    const done = (err: NodeJS.ErrnoException | null) => {
      if (err) res.destroy(); // mid-body: the only honest signal left is cutting the connection
      options.onResponse?.(req, status, res.socket?.bytesWritten ?? 0);
    };
    if (encoding === "br") pipeline(source, createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }), res, done);
    else if (encoding === "gzip") pipeline(source, createGzip({ level: 6 }), res, done);
    else pipeline(source, res, done);
  }
}

/** 304, 412, or undefined to go on (RFC 9110 §13.2.2 evaluation order). */
function checkPreconditions(req: IncomingMessage, entry: FileEntry): 304 | 412 | undefined {
  const mtime = Math.floor(entry.mtimeMs / 1000) * 1000;
  const ifMatch = req.headers["if-match"];
  if (ifMatch !== undefined) {
    if (!(ifMatch.trim() === "*" || etagList(ifMatch).some((t) => !t.startsWith("W/") && sameResource(t, entry.etag)))) return 412;
  } else {
    const ius = req.headers["if-unmodified-since"];
    const when = ius ? Date.parse(ius) : NaN;
    if (!Number.isNaN(when) && mtime > when) return 412;
  }
  const inm = req.headers["if-none-match"];
  if (inm !== undefined) {
    if (inm.trim() === "*" || etagList(inm).some((t) => sameResource(t, entry.etag))) return req.method === "GET" || req.method === "HEAD" ? 304 : 412;
    return undefined;
  }
  const ims = req.headers["if-modified-since"];
  const since = ims ? Date.parse(ims) : NaN;
  if (!Number.isNaN(since) && mtime <= since) return 304;
  return undefined;
}

function etagList(header: string): string[] {
  return header
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

/** Weak comparison that also accepts our encoded variants (`"x-br"`, `"x-gz"`) of the same file. */
function sameResource(tag: string, etag: string): boolean {
  const bare = tag.replace(/^W\//, "").replace(/-(br|gz)"$/, '"');
  return bare === etag;
}

/** A single `bytes=` range as [start, end] inclusive; undefined to send the whole file. */
function parseRange(header: string | undefined, ifRange: string | undefined, entry: FileEntry): [number, number] | "unsatisfiable" | undefined {
  if (!header) return undefined;
  if (ifRange !== undefined) {
    const matches =
      ifRange.startsWith('"') || ifRange.startsWith("W/") ? ifRange === entry.etag : Date.parse(ifRange) >= Math.floor(entry.mtimeMs / 1000) * 1000;
    if (!matches) return undefined;
  }
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined; // multiple or malformed ranges: the full file is a valid answer
  const [, a, b] = m;
  const size = entry.size;
  if (a === "" && b === "") return undefined;
  let start: number;
  let end: number;
  if (a === "") {
    const suffix = Number(b);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== "" && Number(b) < start) return undefined;
  }
  if (start >= size || !Number.isSafeInteger(start)) return "unsatisfiable";
  return [start, end];
}
