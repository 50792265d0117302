/**
 * The published sites, served read-only to the web replicas that pull them (contracts/sites.ts)
 * on the management port: mutual TLS, and only sites clients (images/runtime/management.ts
 * `SITES_CALLER_PREFIX`) or the container itself get here.
 *
 *   GET /sites/                      the manifest: [{ account, version, bytes }]
 *   GET /sites/<account>/<version>   that archive, streamed with its length and SHA-256;
 *                                    404 once a newer version replaced it
 */
import { createReadStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { SITES_CALLER_PREFIX, type StreamRoute } from "../../runtime/management";
import { SITE_SHA256_HEADER, SITES_PREFIX, type SiteVersion } from "../../../contracts/sites";
import type { SiteArchive } from "./sites";

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

/** The stream route serving `versions()` (the publisher's archives). */
export function siteRoutes(versions: () => ReadonlyMap<string, SiteArchive>): StreamRoute[] {
  const serve = async (_req: IncomingMessage, res: ServerResponse, _caller: string, url: URL): Promise<void> => {
    const rest = url.pathname.slice(SITES_PREFIX.length);
    if (rest === "") {
      const manifest: SiteVersion[] = [...versions().values()].map(({ account, version, bytes }) => ({ account, version, bytes }));
      return json(res, 200, manifest);
    }
    const [account, version, ...more] = rest.split("/");
    const archive = account ? versions().get(account) : undefined;
    if (more.length > 0 || !archive || archive.version !== version) return json(res, 404, { error: `no such site version: ${rest}` });
    let stream;
    try {
      stream = createReadStream(archive.path);
      await new Promise<void>((resolve, reject) => stream!.once("open", () => resolve()).once("error", reject));
    } catch {
      return json(res, 404, { error: `site version ${rest} was just replaced` });
    }
    res.writeHead(200, {
      "content-type": "application/x-tar",
      "content-length": archive.bytes,
      [SITE_SHA256_HEADER]: archive.version,
      "cache-control": "no-store",
    });
    await pipeline(stream, res);
  };
  return [{ method: "GET", prefix: SITES_PREFIX, callers: SITES_CALLER_PREFIX, stream: serve }];
}
