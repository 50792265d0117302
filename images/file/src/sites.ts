/**
 * Publishes hosting customers' sites: each account's `public_html` is copied, whole, to the
 * sites folder that the web replicas mount read-only (contracts/paths.ts CUSTOMER_SITES_PATH),
 * and made live by one atomic rename of a symbolic link:
 *
 *   <sites>/<account>/current -> .snap-<time>-<rand>   what the web replicas serve
 *   <sites>/<account>/.snap-…                           complete copies; the previous one is
 *                                                       kept for requests still reading it
 *
 * Every `intervalMs` the publisher takes a signature of each account's `public_html` (every
 * entry's path, size, mtime and inode). A signature that differs from the published one and
 * stayed the same for one interval is published: a site is never served half-copied, and an
 * upload batch that pauses for less than the interval is published once, after its last file.
 * Uploads commit by rename (tree.ts), so every copied file is complete; a file that lands
 * during a copy changes the signature, and the next round publishes again.
 *
 * Where the web replicas share no volume with this one (the Hetzner target, contracts/sites.ts),
 * the publisher also packs each published copy into one archive beside it,
 * `<sites>/<account>/.site-<sha256>.tar` (images/runtime/siteArchive.ts), and `versions()`
 * lists them for the web replicas that pull (siteServe.ts).
 */
import { randomBytes } from "node:crypto";
import { cp, lstat, mkdir, readdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../runtime/log";
import { Rounds } from "../../runtime/rounds";
import { packSite } from "../../runtime/siteArchive";
import type { SiteVersion } from "../../../contracts/sites";
import { CUSTOMER_SITE_FOLDER } from "../../../contracts/paths";

export interface PublishedSite {
  readonly account: string;
  /** The account's live files (UserTree.filesDir). */
  readonly filesDir: string;
}

async function signature(dir: string): Promise<string | undefined> {
  const parts: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      const info = await lstat(join(dir, path));
      parts.push(`${path}\0${info.isDirectory() ? "d" : info.size}\0${info.mtimeMs}\0${info.ino}`);
      if (info.isDirectory()) await walk(path);
    }
  };
  try {
    await walk("");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return parts.length === 0 ? undefined : parts.join("\n");
    throw error;
  }
  return parts.join("\n");
}

/** A published site's archive: its version (SHA-256), size and file. */
export interface SiteArchive extends SiteVersion {
  readonly path: string;
}

export class SitePublisher {
  private readonly published = new Map<string, string | undefined>();
  private readonly archives = new Map<string, SiteArchive>();
  private readonly seen = new Map<string, string | undefined>();
  private readonly rounds: Rounds;

  constructor(
    private readonly sites: readonly PublishedSite[],
    private readonly sitesDir: string,
    private readonly log: Logger,
    private readonly intervalMs = 1000,
    /** Also pack each published copy into an archive for web replicas that pull (contracts/sites.ts). */
    private readonly packArchives = false,
  ) {
    this.rounds = new Rounds(
      () => this.round(),
      intervalMs,
      (error) => log.error({ err: error }, "publishing customer sites failed"),
    );
  }

  /** The archives of the sites published so far, by account. */
  versions(): ReadonlyMap<string, SiteArchive> {
    return this.archives;
  }

  start(): void {
    this.rounds.start();
  }

  stop(): Promise<void> {
    return this.rounds.stop();
  }

  /** One round: publish every site whose content changed and then held still for a round. */
  async round(): Promise<void> {
    for (const site of this.sites) {
      const source = join(site.filesDir, CUSTOMER_SITE_FOLDER);
      const now = await signature(source);
      const before = this.seen.get(site.account);
      this.seen.set(site.account, now);
      if (now === undefined || now !== before) continue; // nothing to serve yet, or still changing
      // After a restart the first round publishes again: a copy and one rename, harmless.
      if (this.published.get(site.account) === now) continue;
      await this.publish(site.account, source);
      this.published.set(site.account, now);
    }
  }

  private async publish(account: string, source: string): Promise<void> {
    const dir = join(this.sitesDir, account);
    await mkdir(dir, { recursive: true });
    const snap = `.snap-${Date.now()}-${randomBytes(4).toString("hex")}`;
    // A copy, not links: the sites volume is another file system than the data volume.
    await cp(source, join(dir, snap), { recursive: true, errorOnExist: true, force: false, verbatimSymlinks: true });
    const link = join(dir, `.current-${randomBytes(4).toString("hex")}`);
    await symlink(snap, link);
    const previous = await readlink(join(dir, "current")).catch(() => undefined);
    await rename(link, join(dir, "current")); // atomic: the old copy or the new one, never a mix
    // Keep the copy just replaced (a request may still read it); remove the older ones.
    for (const name of await readdir(dir)) {
      if (name.startsWith(".snap-") && name !== snap && name !== previous) await rm(join(dir, name), { recursive: true, force: true });
    }
    if (this.packArchives) await this.pack(account, dir, snap);
    this.log.info({ account, snapshot: snap }, "customer site published");
  }

  /** Packs the copy just published; the older archives go (a download already open keeps reading its file). */
  private async pack(account: string, dir: string, snap: string): Promise<void> {
    const partial = join(dir, `.archive-${randomBytes(4).toString("hex")}.partial`);
    try {
      const packed = await packSite(join(dir, snap), partial);
      if (packed.skipped.length > 0)
        this.log.warn({ account, skipped: packed.skipped.slice(0, 20) }, "left out of the site's archive: not a plain file or folder");
      const name = `.site-${packed.sha256}.tar`;
      await rename(partial, join(dir, name));
      this.archives.set(account, { account, version: packed.sha256, bytes: packed.bytes, path: join(dir, name) });
      for (const old of await readdir(dir)) if (old.startsWith(".site-") && old !== name) await rm(join(dir, old), { force: true });
    } finally {
      await rm(partial, { force: true });
    }
  }
}
