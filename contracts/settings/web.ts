/**
 * The web role's settings (`services[].settings` in the stack), validated with zod at
 * start-up and exported so `serverpark validate` can check a stack before deploying it.
 * Every site is served by virtual host; its content is either a folder (a mounted volume)
 * or inline files from the stack, written to a scratch folder at start-up.
 */
import { z } from "zod";

const HOST = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const hostname = z.string().toLowerCase().regex(HOST, "expected a host name such as www.example.test (lower case, no port)");
/** A path inside the site: relative, no `..`, no leading slash. */
const sitePath = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith("/") && !p.split("/").some((s) => s === ".." || s === "." || s === ""),
    "expected a relative path inside the site (no '..', no leading '/')",
  );

export const siteSchema = z
  .strictObject({
    /** The site's host name; requests are matched on the Host header / TLS SNI. */
    host: hostname,
    /** More names for the same site. @default [] */
    aliases: z.array(hostname).default([]),
    /** Folder with the site's files (e.g. a mounted volume). Exactly one of root / files. */
    root: z.string().startsWith("/", "expected an absolute path").optional(),
    /** Inline content: relative path → text. */
    files: z.record(sitePath, z.string()).optional(),
    /** Files tried, in order, for a request naming a folder. @default ["index.html"] */
    index: z.array(sitePath).min(1).default(["index.html"]),
    /** Custom error pages: status → path inside the site. @default {} */
    errorPages: z.record(z.string().regex(/^[45]\d\d$/, "expected a 4xx or 5xx status"), sitePath).default({}),
    /** Cache-Control sent with every file. @default "public, max-age=60" */
    cacheControl: z.string().default("public, max-age=60"),
    /** This site answers requests for unknown hosts. @default false */
    default: z.boolean().default(false),
    /** Certificate for this site's names (SNI); without it the replica's certificate is used. */
    tls: z.strictObject({ certFile: z.string().startsWith("/"), keyFile: z.string().startsWith("/") }).optional(),
  })
  .refine((s) => (s.root === undefined) !== (s.files === undefined), { message: "expected exactly one of root (a folder) or files (inline content)" });

export const webSettingsSchema = z
  .strictObject({
    /** The sites; none means one default site for the service's own names. @default [] */
    sites: z.array(siteSchema).default([]),
    /** Files smaller than this are not compressed. @default 256 */
    compressMinBytes: z.number().int().min(0).default(256),
    /** Files up to this size are kept in memory (with their gzip/brotli forms). @default 1048576 */
    cacheMaxFileBytes: z
      .number()
      .int()
      .min(0)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** Write combined-format access logs. @default true */
    accessLog: z.boolean().default(true),
  })
  .refine((s) => s.sites.filter((x) => x.default).length <= 1, { message: "expected at most one default site", path: ["sites"] })
  .refine((s) => new Set(s.sites.flatMap((x) => [x.host, ...x.aliases])).size === s.sites.flatMap((x) => [x.host, ...x.aliases]).length, {
    message: "expected every host name and alias to belong to one site only",
    path: ["sites"],
  });

export type WebSettings = z.output<typeof webSettingsSchema>;
export type SiteSettings = z.output<typeof siteSchema>;
