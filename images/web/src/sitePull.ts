/**
 * Customers' sites pulled from the file service (contracts/sites.ts), where this replica shares
 * no volume with it (the Hetzner target). Every few seconds the puller reads each file
 * replica's manifest over mutual TLS (its sites client certificate, the datacenter CA) and,
 * for a site this replica serves whose version differs from the live one:
 *
 *   1. downloads the archive to `<sites>/<account>/.download-…` (to disk, never more than the
 *      manifest announced nor the bound), and checks its SHA-256 against the version;
 *   2. unpacks it into `.unpack-…` (images/runtime/siteArchive.ts: plain files and folders
 *      only, inside the folder, bounded), renamed to `.snap-<version>` when complete;
 *   3. renames a new `current` link over the old one: the same layout the file service writes
 *      on a shared volume (images/file/src/sites.ts), so sites.ts serves both alike.
 *
 * A visitor sees the old copy or the new one, never a mix; anything that fails (file service
 * down, a refused archive, a hash mismatch) leaves the live copy serving and is retried next
 * round. The copy just replaced is kept for requests still reading it; older ones go.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, readlink, rename, rm, symlink } from "node:fs/promises";
import { request, type RequestOptions } from "node:https";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Logger } from "../../runtime/log";
import { Rounds } from "../../runtime/rounds";
import { SiteArchiveError, unpackSite } from "../../runtime/siteArchive";
import { SITE_MAX_ENTRIES, SITES_PREFIX, siteManifestSchema, type SiteVersion } from "../../../contracts/sites";

export interface SitePullOptions {
  /** The file replicas' management URLs. */
  readonly sources: readonly string[];
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string };
  /** The accounts whose sites this replica serves. */
  readonly accounts: readonly string[];
  /** Where the sites live (`<account>/current`). */
  readonly sitesDir: string;
  /** Bytes of content a site may hold (its archive may add headers: 512 bytes a member). */
  readonly maxBytes: number;
  readonly intervalMs: number;
  readonly log: Logger;
}

const MANIFEST_LIMIT = 1024 * 1024;
const TIMEOUT_MS = 30_000;

export class SitePuller {
  private readonly rounds: Rounds;
  private readonly failing = new Set<string>();

  constructor(private readonly options: SitePullOptions) {
    this.rounds = new Rounds(
      () => this.round(),
      options.intervalMs,
      (error) => options.log.error({ err: error }, "pulling customer sites failed"),
    );
  }

  start(): void {
    this.rounds.start();
  }

  stop(): Promise<void> {
    return this.rounds.stop();
  }

  /** One round: every source's manifest, then each changed site this replica serves. */
  async round(): Promise<void> {
    const wanted = new Set(this.options.accounts);
    const found = new Map<string, { source: string; site: SiteVersion }>();
    for (const source of this.options.sources) {
      try {
        for (const site of await this.manifest(source)) if (wanted.has(site.account) && !found.has(site.account)) found.set(site.account, { source, site });
        this.recovered(source);
      } catch (error) {
        this.failed(source, error, "the file service's site manifest is unreachable; the last good copies keep serving");
      }
    }
    for (const { source, site } of found.values()) {
      if ((await this.live(site.account)) === site.version) continue;
      try {
        await this.pull(source, site);
        this.recovered(`${site.account}@${site.version}`);
      } catch (error) {
        this.failed(`${site.account}@${site.version}`, error, "a site version was refused; the last good copy keeps serving");
      }
    }
  }

  /** The version `current` points at (`.snap-<version>`), if any. */
  private async live(account: string): Promise<string | undefined> {
    const target = await readlink(join(this.options.sitesDir, account, "current")).catch(() => undefined);
    return target?.startsWith(".snap-") ? target.slice(".snap-".length) : undefined;
  }

  /** Logs a failure once until it recovers (a file service down for an hour is one line, not 1,200). */
  private failed(key: string, error: unknown, message: string): void {
    if (this.failing.has(key)) return;
    this.failing.add(key);
    this.options.log.warn({ err: error, what: key }, message);
  }

  private recovered(key: string): void {
    if (this.failing.delete(key)) this.options.log.info({ what: key }, "customer sites: recovered");
  }

  private async get(source: string, path: string): Promise<IncomingMessage> {
    const [cert, key, ca] = await Promise.all([this.options.tls.cert, this.options.tls.key, this.options.tls.ca].map((f) => readFile(f, "utf8")));
    const url = new URL(path, source);
    const options: RequestOptions = {
      method: "GET",
      hostname: url.hostname,
      port: url.port,
      path: url.pathname,
      cert,
      key,
      ca,
      minVersion: "TLSv1.2",
      timeout: TIMEOUT_MS,
    };
    return new Promise((resolve, reject) => {
      const req = request(options, resolve);
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error(`${source} did not answer for ${TIMEOUT_MS / 1000} s`)));
      req.end();
    });
  }

  private async manifest(source: string): Promise<SiteVersion[]> {
    const res = await this.get(source, SITES_PREFIX);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MANIFEST_LIMIT) {
        res.destroy();
        throw new Error(`manifest larger than ${MANIFEST_LIMIT} bytes`);
      }
      chunks.push(chunk);
    }
    if (res.statusCode !== 200) throw new Error(`manifest: ${res.statusCode} ${Buffer.concat(chunks).toString("utf8").slice(0, 200)}`);
    return siteManifestSchema.parse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
  }

  /** Downloads, checks, unpacks and swaps live one site version. */
  async pull(source: string, site: SiteVersion): Promise<void> {
    const { maxBytes } = this.options;
    const archiveLimit = maxBytes + 1024 * SITE_MAX_ENTRIES + 1024;
    if (site.bytes > archiveLimit) throw new SiteArchiveError(`archive of ${site.bytes} bytes is over the bound of ${archiveLimit}`);
    const dir = join(this.options.sitesDir, site.account);
    await mkdir(dir, { recursive: true });
    const tag = randomBytes(4).toString("hex");
    const download = join(dir, `.download-${tag}`);
    const unpacked = join(dir, `.unpack-${tag}`);
    try {
      const res = await this.get(source, `${SITES_PREFIX}${site.account}/${site.version}`);
      if (res.statusCode !== 200) {
        res.resume();
        throw new Error(`archive: ${res.statusCode}`);
      }
      const hash = createHash("sha256");
      let bytes = 0;
      const count = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          if (bytes > site.bytes) return done(new SiteArchiveError(`archive longer than the ${site.bytes} bytes the manifest announced`));
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(res, count, createWriteStream(download, { flags: "wx", mode: 0o600 }));
      const actual = hash.digest("hex");
      if (bytes !== site.bytes || actual !== site.version)
        throw new SiteArchiveError(`archive's SHA-256 is ${actual} (${bytes} bytes), the manifest says ${site.version}`);
      const files = await unpackSite(download, unpacked, { maxBytes, maxEntries: SITE_MAX_ENTRIES });
      const snap = `.snap-${site.version}`;
      await rm(join(dir, snap), { recursive: true, force: true }); // a copy of this version no link points at
      await rename(unpacked, join(dir, snap));
      const link = join(dir, `.current-${tag}`);
      await symlink(snap, link);
      const previous = await readlink(join(dir, "current")).catch(() => undefined);
      await rename(link, join(dir, "current")); // atomic: the old copy or the new one, never a mix
      for (const name of await readdir(dir)) {
        if (name.startsWith(".snap-") && name !== snap && name !== previous) await rm(join(dir, name), { recursive: true, force: true });
      }
      this.options.log.info({ account: site.account, version: site.version, files: files.files, bytes: files.bytes }, "customer site pulled");
    } finally {
      await rm(download, { force: true });
      await rm(unpacked, { recursive: true, force: true });
    }
  }
}
