/**
 * The web role against curl: virtual hosts, index files, content types, ETag and
 * Last-Modified with conditional requests, ranges, gzip and brotli, TLS with SNI per
 * site, keep-alive, custom error pages, and refused traversal / encoded-slash / symlink
 * escapes.
 */
import { createHash } from "node:crypto";
import { gunzipSync, brotliDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIG, CSS, startWebFixture, type WebFixture } from "./fixture";
import { curl, requireTool } from "./curl";

let f: WebFixture;
let ok = false;
let http: (host: string, path: string, ...extra: string[]) => ReturnType<typeof curl>;

beforeAll(async () => {
  ok = await requireTool("curl");
  f = await startWebFixture();
  http = (host, path, ...extra) => curl(["--path-as-is", "-H", `Host: ${host}`, ...extra, `http://127.0.0.1:${f.app.httpPort}${path}`]);
});
afterAll(() => f?.app.close());

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe.concurrent("virtual hosts and files", () => {
  it("serves each site by Host, aliases included, unknown hosts from the default site", async () => {
    if (!ok) return;
    expect((await http("a.test", "/")).body.toString()).toContain("site a");
    expect((await http("WWW.A.TEST:80", "/")).body.toString()).toContain("site a");
    expect((await http("b.test", "/")).body.toString()).toContain("site b");
    expect((await http("b.test", "/docs/readme.txt")).body.toString()).toBe("b docs\n");
    expect((await http("unknown.test", "/")).body.toString()).toContain("site a");
  });

  it("sends index files for folders and redirects a folder without its slash", async () => {
    if (!ok) return;
    expect((await http("a.test", "/sub/")).body.toString()).toContain("sub");
    const r = await http("a.test", "/sub?x=1");
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe("/sub/?x=1");
  });

  it("labels content types", async () => {
    if (!ok) return;
    expect((await http("a.test", "/index.html")).headers["content-type"]).toBe("text/html; charset=utf-8");
    expect((await http("a.test", "/style.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
    expect((await http("a.test", "/data.json")).headers["content-type"]).toBe("application/json; charset=utf-8");
    expect((await http("a.test", "/big.bin")).headers["content-type"]).toBe("application/octet-stream");
  });

  it("serves a large file intact (streamed, not cached)", async () => {
    if (!ok) return;
    const r = await http("a.test", "/big.bin");
    expect(r.status).toBe(200);
    expect(Number(r.headers["content-length"])).toBe(BIG.length);
    expect(sha(r.body)).toBe(sha(BIG));
  });

  it("answers unknown paths with the site's custom error page, others with a plain one", async () => {
    if (!ok) return;
    const a = await http("a.test", "/missing");
    expect(a.status).toBe(404);
    expect(a.body.toString()).toContain("custom not found page of a");
    const b = await http("b.test", "/missing");
    expect(b.status).toBe(404);
    expect(b.body.toString()).toContain("404 Not Found");
  });

  it("allows GET, HEAD and OPTIONS only", async () => {
    if (!ok) return;
    const post = await http("a.test", "/", "-X", "POST", "-d", "x");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD, OPTIONS");
    const head = await http("a.test", "/style.css", "-I");
    expect(head.status).toBe(200);
    expect(Number(head.headers["content-length"])).toBe(CSS.length);
    expect(head.body.toString()).not.toContain("color"); // curl -I stores the headers as the "body"
  });
});

describe.concurrent("caching headers and conditional requests", () => {
  it("sends ETag and Last-Modified and answers 304 to If-None-Match and If-Modified-Since", async () => {
    if (!ok) return;
    const first = await http("a.test", "/index.html");
    const etag = first.headers.etag!;
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(first.headers["last-modified"]).toMatch(/GMT$/);
    expect(first.headers["cache-control"]).toBe("public, max-age=60");
    expect((await http("a.test", "/index.html", "-H", `If-None-Match: ${etag}`)).status).toBe(304);
    expect((await http("a.test", "/index.html", "-H", `If-None-Match: "other", W/${etag}`)).status).toBe(304);
    expect((await http("a.test", "/index.html", "-H", `If-None-Match: "other"`)).status).toBe(200);
    expect((await http("a.test", "/index.html", "-H", `If-Modified-Since: ${first.headers["last-modified"]}`)).status).toBe(304);
    expect((await http("a.test", "/index.html", "-H", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT")).status).toBe(200);
    // curl's own conditional GET (-z) works too.
    expect((await http("a.test", "/index.html", "-z", first.headers["last-modified"]!)).status).toBe(304);
  });

  it("answers 412 when If-Match or If-Unmodified-Since fail", async () => {
    if (!ok) return;
    expect((await http("a.test", "/index.html", "-H", 'If-Match: "nope"')).status).toBe(412);
    expect((await http("a.test", "/index.html", "-H", "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT")).status).toBe(412);
  });
});

describe.concurrent("byte ranges", () => {
  it("serves ranges of cached and streamed files", async () => {
    if (!ok) return;
    const small = await http("a.test", "/style.css", "-r", "5-14");
    expect(small.status).toBe(206);
    expect(small.headers["content-range"]).toBe(`bytes 5-14/${CSS.length}`);
    expect(small.body.toString()).toBe(CSS.slice(5, 15));
    const big = await http("a.test", "/big.bin", "-r", "1000000-1000099");
    expect(big.status).toBe(206);
    expect(big.body.equals(BIG.subarray(1000000, 1000100))).toBe(true);
    const suffix = await http("a.test", "/big.bin", "-r", "-10");
    expect(suffix.body.equals(BIG.subarray(BIG.length - 10))).toBe(true);
  });

  it("416 for a range past the end; the full file when If-Range no longer matches", async () => {
    if (!ok) return;
    const past = await http("a.test", "/style.css", "-r", "999999-");
    expect(past.status).toBe(416);
    expect(past.headers["content-range"]).toBe(`bytes */${CSS.length}`);
    const stale = await http("a.test", "/style.css", "-r", "0-9", "-H", 'If-Range: "old"');
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(CSS.length);
  });

  it("resumes a download with curl -C", async () => {
    if (!ok) return;
    const r = await http("a.test", "/big.bin", "-C", String(BIG.length - 1000));
    expect(r.status).toBe(206);
    expect(r.body.equals(BIG.subarray(BIG.length - 1000))).toBe(true);
  });
});

describe.concurrent("compression", () => {
  it("brotli when preferred, gzip otherwise, identity when not accepted; Vary set", async () => {
    if (!ok) return;
    const br = await http("a.test", "/style.css", "-H", "Accept-Encoding: gzip, br");
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers.vary).toBe("Accept-Encoding");
    expect(brotliDecompressSync(br.body).toString()).toBe(CSS);
    const gz = await http("a.test", "/style.css", "-H", "Accept-Encoding: gzip, br;q=0.5");
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body).toString()).toBe(CSS);
    expect(br.headers.etag).not.toBe(gz.headers.etag);
    const plain = await http("a.test", "/style.css");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body.toString()).toBe(CSS);
    // curl --compressed decodes what it negotiated.
    expect((await http("a.test", "/style.css", "--compressed")).body.toString()).toBe(CSS);
    // Binary files are not compressed.
    expect((await http("a.test", "/big.bin", "-H", "Accept-Encoding: br", "-r", "0-9")).headers["content-encoding"]).toBeUndefined();
  });

  it("a compressed variant revalidates with its own ETag", async () => {
    if (!ok) return;
    const br = await http("a.test", "/style.css", "-H", "Accept-Encoding: br");
    expect((await http("a.test", "/style.css", "-H", "Accept-Encoding: br", "-H", `If-None-Match: ${br.headers.etag}`)).status).toBe(304);
  });
});

describe.concurrent("prepared answers of cached files", () => {
  it("send the same headers and body as the general path, per encoding and site, HEAD without the body", async () => {
    if (!ok) return;
    const withoutDate = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== "date"));
    for (const [host, path, extra] of [
      ["a.test", "/style.css", []],
      ["a.test", "/style.css", ["-H", "Accept-Encoding: br"]],
      ["a.test", "/style.css", ["-H", "Accept-Encoding: gzip"]],
      ["b.test", "/docs/readme.txt", []],
    ] as const) {
      const fast = await http(host, path, ...extra);
      // A failing precondition that is no match (If-None-Match of another tag) takes the general path.
      const general = await http(host, path, ...extra, "-H", 'If-None-Match: "other"');
      expect(fast.status).toBe(200);
      expect(withoutDate(fast.headers)).toEqual(withoutDate(general.headers));
      expect(sha(fast.body)).toBe(sha(general.body));
      const head = await http(host, path, ...extra, "-I");
      expect(withoutDate(head.headers)).toEqual(withoutDate(fast.headers));
    }
  });

  it("are counted in web_requests_total and web_response_bytes_total", async () => {
    if (!ok) return;
    const metric = async (pattern: RegExp) => Number(pattern.exec(await f.app.registry.metrics())?.[1] ?? 0);
    const requests = /web_requests_total\{site="b\.test",status="2xx"\} (\d+)/;
    const bytes = /web_response_bytes_total (\d+)/;
    const [before, bytesBefore] = [await metric(requests), await metric(bytes)];
    const got = await http("b.test", "/docs/readme.txt");
    expect(await metric(requests)).toBeGreaterThan(before);
    expect((await metric(bytes)) - bytesBefore).toBeGreaterThanOrEqual(got.body.length);
  });
});

describe.concurrent("TLS with SNI", () => {
  const https = (name: string, ca: string, path = "/") =>
    curl(["-v", "--resolve", `${name}:${f.app.httpsPort}:127.0.0.1`, "--cacert", ca, `https://${name}:${f.app.httpsPort}${path}`]);

  it("presents each site's own certificate, verified by curl", async () => {
    if (!ok) return;
    const a = await https("a.test", f.certs.a.certFile);
    expect(a.exitCode).toBe(0);
    expect(a.body.toString()).toContain("site a");
    expect(a.stderr).toMatch(/subject: CN=a\.test/);
    const b = await https("b.test", f.certs.b.certFile);
    expect(b.exitCode).toBe(0);
    expect(b.body.toString()).toContain("site b");
    expect(b.stderr).toMatch(/subject: CN=b\.test/);
  });

  it("falls back to the replica certificate for other names (verification then fails as it should)", async () => {
    if (!ok) return;
    const wrong = await https("b.test", f.certs.a.certFile);
    expect(wrong.exitCode).not.toBe(0);
    const other = await https("www.fra1.park.test", f.certs.replica.certFile);
    expect(other.exitCode).toBe(0);
  });
});

describe.concurrent("keep-alive", () => {
  it("reuses one connection for several requests", async () => {
    if (!ok) return;
    const url = `http://127.0.0.1:${f.app.httpPort}`;
    const r = await curl(["-v", "-H", "Host: a.test", `${url}/`, `${url}/style.css`, `${url}/data.json`]);
    expect(r.stderr).toMatch(/Re-using existing connection|Reusing existing connection/);
    expect(r.stderr.match(/Connected to/g)?.length).toBe(1);
  });
});

describe.concurrent("path safety", () => {
  it.each([
    ["/../outside.txt", 400],
    ["/sub/../../outside.txt", 400],
    ["/%2e%2e/outside.txt", 400],
    ["/sub/%2E%2E/%2e%2e/outside.txt", 400],
    ["/..%2foutside.txt", 400],
    ["/sub%2f..%2f..%2foutside.txt", 400],
    ["/..%5coutside.txt", 400],
    ["/index.html%00.txt", 400],
    ["/%E0%A4%A", 400],
    ["/passwd", 403],
    ["/up/outside.txt", 403],
    ["/.git/config", 404],
  ])("refuses %s with %i", async (path, status) => {
    if (!ok) return;
    const r = await http("a.test", path);
    expect(r.status).toBe(status);
    expect(r.body.toString()).not.toMatch(/root:|outside the root|secret/);
  });

  it("allows symlinks that stay inside the site", async () => {
    if (!ok) return;
    expect((await http("a.test", "/alias.html")).body.toString()).toContain("site a");
  });
});
