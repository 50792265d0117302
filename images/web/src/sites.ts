/**
 * Sites by virtual host, and the one place a request path becomes a file. That mapping is
 * where static servers get broken into, so it refuses, in order: anything but an absolute
 * path, encoded slashes / backslashes / NUL (they smuggle separators past naive checks),
 * undecodable escapes, `.` and `..` segments (after decoding, so `%2e%2e` too), hidden
 * files, and, after resolving symlinks, anything whose real path leaves the site's root.
 */
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import type { SiteSettings } from "../../../contracts/settings/web";
import type { CustomerSite } from "../../../contracts/views/web";

export interface Site {
  readonly host: string;
  readonly names: readonly string[];
  /** Real path of the root folder (symlinks resolved), the boundary every file must stay inside. */
  readonly root: string;
  /**
   * Where request paths are looked up, when not `root` itself: a hosting customer's site is
   * served from `<account>/current`, a link the file service moves atomically to each newly
   * published copy, so it is followed on every request while `root` (the account's folder)
   * stays the boundary.
   */
  readonly serveDir?: string;
  readonly index: readonly string[];
  readonly errorPages: Readonly<Record<string, string>>;
  readonly cacheControl: string;
  readonly isDefault: boolean;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

/** Builds the sites; inline `files` are written under `scratch/<host>/` first. */
export function prepareSites(settings: readonly SiteSettings[], scratch: string): Site[] {
  return settings.map((s) => {
    let root = s.root;
    if (s.files) {
      root = join(scratch, s.host);
      for (const [path, content] of Object.entries(s.files)) {
        const file = join(root, path);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, content);
      }
      mkdirSync(root, { recursive: true });
    }
    return {
      host: s.host,
      names: [s.host, ...s.aliases],
      root: realpathSync(root!),
      index: s.index,
      errorPages: s.errorPages,
      cacheControl: s.cacheControl,
      isDefault: s.default,
      ...(s.tls ? { tls: s.tls } : {}),
    };
  });
}

/** Hosting customers' sites (contracts/views/web.ts), served from `<sitesDir>/<account>/current`. */
export function customerSites(sites: readonly CustomerSite[], sitesDir: string): Site[] {
  if (sites.length === 0) return [];
  const base = realpathSync(sitesDir);
  return sites.map((s) => ({
    host: s.names[0]!,
    names: s.names,
    root: join(base, s.account),
    serveDir: join(base, s.account, "current"),
    index: ["index.html"],
    errorPages: {},
    // Short: a newly published site is visible within seconds, through caches too.
    cacheControl: "public, max-age=5",
    isDefault: false,
  }));
}

export class SiteTable {
  private readonly exact = new Map<string, Site>();
  private readonly wildcard: [string, Site][] = [];
  readonly fallback: Site | undefined;

  constructor(readonly sites: readonly Site[]) {
    for (const site of sites) {
      for (const name of site.names) {
        if (name.startsWith("*.")) this.wildcard.push([name.slice(1), site]);
        else this.exact.set(name, site);
      }
    }
    this.fallback = sites.find((s) => s.isDefault);
  }

  /** The site for a Host header (port and trailing dot ignored, case-insensitive). */
  find(hostHeader: string | undefined): Site | undefined {
    if (!hostHeader) return this.fallback;
    let host = hostHeader.toLowerCase();
    const colon = host.startsWith("[") ? host.indexOf("]:") + 1 : host.lastIndexOf(":");
    if (colon > 0) host = host.slice(0, colon);
    if (host.endsWith(".")) host = host.slice(0, -1);
    const site = this.exact.get(host);
    if (site) return site;
    for (const [suffix, s] of this.wildcard) if (host.endsWith(suffix)) return s;
    return this.fallback;
  }
}

export type Resolution =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "redirect"; readonly location: string }
  | { readonly kind: "error"; readonly status: 400 | 403 | 404 };

const BAD_RAW = /%2f|%5c|%00|\\/i;

/** Maps the path part of a request URL (no query) to a file of the site. */
export async function resolvePath(site: Site, rawPath: string): Promise<Resolution> {
  if (!rawPath.startsWith("/") || BAD_RAW.test(rawPath)) return { kind: "error", status: 400 };
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { kind: "error", status: 400 };
  }
  if (decoded.includes("\0")) return { kind: "error", status: 400 };
  const segments = decoded.split("/").slice(1);
  const last = segments.length - 1;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === "." || s === "..") return { kind: "error", status: 400 };
    if (s === "" && i !== last) return { kind: "error", status: 400 }; // `//` in the middle
    if (s.startsWith(".") && !(i === 0 && s === ".well-known")) return { kind: "error", status: 404 };
  }
  const wantsFolder = segments[last] === "";
  const candidate = join(site.serveDir ?? site.root, ...segments);
  const real = await inside(site, candidate);
  if (typeof real !== "string") return real;
  const info = await stat(real).catch(() => undefined);
  if (!info) return { kind: "error", status: 404 };
  if (info.isFile()) return wantsFolder ? { kind: "error", status: 404 } : { kind: "file", path: real };
  if (!info.isDirectory()) return { kind: "error", status: 404 };
  if (!wantsFolder) return { kind: "redirect", location: `${rawPath}/` };
  for (const index of site.index) {
    const file = await inside(site, join(real, index));
    if (typeof file === "string" && (await stat(file).catch(() => undefined))?.isFile()) return { kind: "file", path: file };
  }
  return { kind: "error", status: 404 };
}

/** The real path of `candidate` if it exists and stays inside the site, else why not. */
async function inside(site: Site, candidate: string): Promise<string | Resolution> {
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return { kind: "error", status: 404 };
  }
  if (real !== site.root && !real.startsWith(site.root + sep)) return { kind: "error", status: 403 };
  return real;
}
