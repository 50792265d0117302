/**
 * Hosting customers' sites pulled by the web replicas (issue #19), for targets where the web
 * replicas share no volume with the file service (Hetzner: separate servers). The file replica
 * serves what it published (images/file/src/sites.ts) on its management port, over mutual TLS
 * with the datacenter CA; each web replica presents a sites client certificate (this OU, its
 * common name `<web service>/<replica>`), polls the manifest and fetches a changed site as one
 * archive (POSIX ustar, images/runtime/siteArchive.ts), checks its SHA-256 and swaps it live.
 * Declared once here so neither side can change a name alone.
 *
 *   GET /sites/                       the manifest: every published site's version (siteManifestSchema)
 *   GET /sites/<account>/<version>    that version's archive (header SITE_SHA256_HEADER)
 *
 * Sites are public content (the web replicas serve them to anyone), so every sites client may
 * read every site; the certificate keeps the port closed to every other container.
 */
import { z } from "zod";

/** The organizational unit of a web replica's sites client certificate. */
export const SITES_CLIENT_OU = "serverpark sites client";

/** Where a web replica finds its sites client certificate and key. */
export const SITES_CLIENT_TLS_PATHS = {
  cert: "/etc/serverpark/sites-client/tls.crt",
  key: "/etc/serverpark/sites-client/tls.key",
} as const;

/** The routes' prefix on the file replica's management port. */
export const SITES_PREFIX = "/sites/";

/** The response header carrying an archive's SHA-256 (hex), its version. */
export const SITE_SHA256_HEADER = "x-serverpark-sha256";

/** The environment the program sets and the servers read. */
export const SITES_ENV = {
  /** On a file replica: "1" to keep each published site as an archive and serve them. */
  serve: "SP_FILE_SITES_SERVE",
  /** On a web replica: JSON list of the file replicas' management URLs (`https://<address>:<port>`) to pull from. */
  pullFrom: "SP_SITES_PULL_FROM",
  /** On a web replica: the largest site it accepts, bytes of content (the largest plan quota of its customers). */
  maxBytes: "SP_SITES_MAX_BYTES",
} as const;

/** How often a web replica asks for the manifest. */
export const SITE_PULL_INTERVAL_MS = 3000;

/** The largest site a web replica accepts unless told otherwise: 1 GiB of content. */
export const DEFAULT_SITE_MAX_BYTES = 1024 ** 3;

/** Files and folders in one site's archive, at most. */
export const SITE_MAX_ENTRIES = 100_000;

/** A file account's name (contracts/views/file.ts), safe as one path segment. */
export const SITE_ACCOUNT = /^[a-z][a-z0-9_-]{0,31}$/;

/** One published site as the manifest lists it. */
export const siteVersionSchema = z.strictObject({
  account: z.string().regex(SITE_ACCOUNT),
  /** SHA-256 of the archive, hex: its version. */
  version: z.string().regex(/^[0-9a-f]{64}$/),
  /** The archive's size. */
  bytes: z.number().int().nonnegative(),
});
export type SiteVersion = z.output<typeof siteVersionSchema>;

export const siteManifestSchema = z.array(siteVersionSchema).max(10_000);

/** The pull URLs (SITES_ENV.pullFrom). */
export const sitePullFromSchema = z.array(z.url({ protocol: /^https$/ })).min(1);
