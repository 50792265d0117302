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
 */
import { randomBytes } from "node:crypto";
import { cp, lstat, mkdir, readdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../runtime/log";
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

export class SitePublisher {
  private readonly published = new Map<string, string | undefined>();
  private readonly seen = new Map<string, string | undefined>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly sites: readonly PublishedSite[],
    private readonly sitesDir: string,
    private readonly log: Logger,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.round()
        .catch((error: unknown) => this.log.error({ err: error }, "publishing customer sites failed"))
        .finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
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
    this.log.info({ account, snapshot: snap }, "customer site published");
  }
}
