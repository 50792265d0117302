/**
 * The replica's runtime config: the one file (contracts/paths.ts RUNTIME_CONFIG_PATH, `$SP_CONFIG`)
 * the program hands every replica. One schema for both sides: the program builds its input
 * type ({@link ReplicaRuntimeConfig}, components/model/runtimeConfig.ts) and the server parses
 * the file with it (images/runtime/replica.ts). Everything the program always writes is
 * required: a file without it is refused at start-up instead of being filled with a guess.
 */
import { z } from "zod";
import { dnsZoneSchema } from "./dns";
import { dbHaViewSchema } from "./views/db";
import { exposureSchema } from "./networks";
import { nocViewSchema } from "./views/noc";
import { resolvedRouteSchema } from "./views/proxy";

const addresses = z.record(z.string(), z.string());
const cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/, "expected a CIDR such as 10.42.1.0/24");

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
  /** Only for the proxy role: its routes with their upstreams (contracts/views/proxy.ts). */
  routes: z.array(resolvedRouteSchema).optional(),
  /** Only for the noc role: what to probe and what to draw (contracts/views/noc.ts). */
  noc: nocViewSchema.optional(),
  /** Only for the dns role: the zones its service serves, its settings' records merged in and each SOA serial computed after. */
  zones: z.array(dnsZoneSchema).optional(),
  /** Only for the members of a highly available db group: its part, the monitor and the data nodes (contracts/views/db.ts). */
  ha: dbHaViewSchema.optional(),
  /**
   * The service's declared backups (`services[].backup`): the role runs them on this UTC cron
   * schedule into `$SP_BACKUP_DIR` and deletes those older than `retentionDays`.
   */
  backup: z.looseObject({ schedule: z.string(), retentionDays: z.number().positive(), targetHost: z.string().optional() }).optional(),
});

type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** What the program writes (it builds values from the plan's readonly data). */
export type ReplicaRuntimeConfig = DeepReadonly<z.input<typeof replicaRuntimeConfigSchema>>;
/** What the server gets after parsing. */
export type ParsedRuntimeConfig = z.output<typeof replicaRuntimeConfigSchema>;
