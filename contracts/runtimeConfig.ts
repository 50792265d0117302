/**
 * The replica's runtime config: the one file (contracts/paths.ts RUNTIME_CONFIG_PATH, `$SP_CONFIG`)
 * the program hands every replica. One schema for both sides: the program builds its input
 * type ({@link ReplicaRuntimeConfig}, components/model/runtimeConfig.ts) and the server parses
 * the file with it (images/runtime/replica.ts). Everything the program always writes is
 * required: a file without it is refused at start-up instead of being filled with a guess.
 */
import { z } from "zod";
import { dnsZoneSchema } from "./dns";
import { cidrSchema, exposureSchema } from "./networks";
import { dbHaViewSchema } from "./views/db";
import { fileAccountSchema } from "./views/file";
import { mailViewSchema } from "./views/mail";
import { customerSiteSchema } from "./views/web";
import { nocViewSchema } from "./views/noc";
import { acmeViewSchema, resolvedRouteSchema } from "./views/proxy";

const addresses = z.record(z.string(), z.string());
const cidr = cidrSchema;

/**
 * What a role's job needs from the plan, beyond its identity and settings: the proxy's routes,
 * the NOC's probe targets and drawing, a dns server's zones. These grow with the datacenter
 * (a NOC watching 1,000 hosts, a dns server with their records), so the program writes the
 * view to a file of its own beside the config ({@link VIEW_FILE}), once per distinct content,
 * and the config names it with its SHA-256 ({@link viewRefSchema}): the config itself stays
 * small and grows only with the replica, and identical views (every dns service serving the
 * same zones) are written and delivered once.
 */
export const roleViewSchema = z.object({
  /** Only for the proxy role: its routes with their upstreams (contracts/views/proxy.ts). */
  routes: z.array(resolvedRouteSchema).optional(),
  /** Only for the proxy role, when hosting customers' certificates come from an ACME CA: what to order (contracts/views/proxy.ts). */
  acme: acmeViewSchema.optional(),
  /** Only for the noc role: what to probe and what to draw (contracts/views/noc.ts). */
  noc: nocViewSchema.optional(),
  /** Only for the dns role: the zones its service serves, its settings' records merged in and each SOA serial computed after. */
  zones: z.array(dnsZoneSchema).optional(),
  /** Only for the file role, when hosting customers use it: their accounts (contracts/views/file.ts). */
  accounts: z.array(fileAccountSchema).optional(),
  /** Only for the web role, when it serves hosting customers: their sites (contracts/views/web.ts). */
  customerSites: z.array(customerSiteSchema).optional(),
  /** Only for the mail role, when hosting customers have mailboxes on it: their domains and mailboxes (contracts/views/mail.ts). */
  mail: mailViewSchema.optional(),
});

/** The view file's name, in the config's folder (contracts/paths.ts ROLE_VIEW_PATH in a container). */
export const VIEW_FILE = "view.json";

/** The config's reference to its view file: the file's name beside the config and the SHA-256 of its bytes. */
export const viewRefSchema = z.object({
  file: z.literal(VIEW_FILE),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected the view file's SHA-256 in hex"),
});

/**
 * One replica's view of the datacenter: who it is, its own networks, its role's settings and
 * only what its role's job needs, resolved by the program from the plan (components/model/):
 * the proxy its routes, the NOC its probe targets and drawing, a dns server its zones. Nothing
 * here grows with the datacenter unless the role's job does.
 */
export const replicaRuntimeConfigSchema = z.object({
  datacenter: z.string(),
  domain: z.string(),
  service: z.string(),
  role: z.string(),
  replica: z.string(),
  host: z.string(),
  rack: z.string(),
  feeds: z.array(z.string()),
  addresses,
  /**
   * Every network the replica is attached to (the keys of `addresses`): its CIDR and its
   * declared exposure. A server behind NAT (the Hetzner target publishes container ports on
   * the planned addresses) sees its container address on its sockets; with the CIDRs it can
   * tell which planned address a client reaches it on — FTP names it in PASV replies. The
   * exposure says which network is the management one, whatever its id.
   */
  networks: z.record(z.string(), z.object({ cidr, exposure: exposureSchema })),
  managementAddress: z.string().optional(),
  /** The role's `services[].settings` from the stack; each role checks them with its own schema (contracts/settings/). */
  settings: z.record(z.string(), z.unknown()),
  /**
   * The role's view in its file (what the program writes for the proxy, the NOC and dns). The
   * server reads the file, checks its SHA-256 and parses it with {@link roleViewSchema}; a
   * mismatch (a half-applied deployment) stops start-up. A hand-written config (tests, a bare
   * `docker run`) may instead carry the view's fields inline.
   */
  view: viewRefSchema.optional(),
  ...roleViewSchema.shape,
  /** Only for the members of a highly available db group: its part, the monitor and the data nodes (contracts/views/db.ts). */
  ha: dbHaViewSchema.optional(),
  /**
   * The service's declared backups (`services[].backup`): the role runs them on this UTC cron
   * schedule into `$SP_BACKUP_DIR` and deletes those older than `retentionDays`.
   */
  backup: z.looseObject({ schedule: z.string(), retentionDays: z.number().positive(), targetHost: z.string().optional() }).optional(),
});

export type RoleView = DeepReadonly<z.input<typeof roleViewSchema>>;

type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** What the program writes (it builds values from the plan's readonly data). */
export type ReplicaRuntimeConfig = DeepReadonly<z.input<typeof replicaRuntimeConfigSchema>>;
/** What the server gets after parsing. */
export type ParsedRuntimeConfig = z.output<typeof replicaRuntimeConfigSchema>;
