/**
 * The replica's runtime config: the one file (contracts/paths.ts RUNTIME_CONFIG_PATH, `$SP_CONFIG`)
 * the program hands every replica. One schema for both sides: the program builds its input
 * type ({@link ReplicaRuntimeConfig}, components/model/runtimeConfig.ts) and the server parses
 * the file with it (images/runtime/replica.ts). Everything the program always writes is
 * required: a file without it is refused at start-up instead of being filled with a guess.
 */
import { z } from "zod";
import { dnsZoneSchema } from "./dns";

const addresses = z.record(z.string(), z.string());

/** One service of the datacenter as a replica sees it: its ports and where its replicas are. */
export const directoryEntrySchema = z.looseObject({
  id: z.string(),
  role: z.string(),
  ports: z.array(z.looseObject({ name: z.string(), port: z.number().int(), protocol: z.string() })),
  replicas: z.array(z.looseObject({ id: z.string(), host: z.string(), addresses, managementAddress: z.string().optional() })),
});

/** A host with its power supplies (the NOC draws feeds → PDUs → hosts from them). */
export const runtimeHostSchema = z.looseObject({
  id: z.string(),
  rack: z.string(),
  kind: z.string(),
  feeds: z.array(z.string()),
  psus: z.array(z.object({ pdu: z.string(), feed: z.string() })),
  addresses,
});

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
   * network id → CIDR of every network the replica is attached to (the keys of `addresses`).
   * A server behind NAT (the Hetzner target publishes container ports on the planned
   * addresses) sees its container address on its sockets; with the CIDRs it can tell which
   * planned address a client reaches it on — FTP names it in PASV replies.
   */
  networks: z.record(z.string(), z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/, "expected a CIDR such as 10.42.1.0/24")),
  managementAddress: z.string().optional(),
  /** The role's `services[].settings` from the stack; each role checks them with its own schema (contracts/settings/). */
  settings: z.record(z.string(), z.unknown()),
  /** The proxy and the NOC get every service; other roles only their own. */
  directory: z.array(directoryEntrySchema),
  /** The proxy and the NOC get every host; other roles only their own. */
  hosts: z.array(runtimeHostSchema),
  /** Only for the dns role: the zones it serves. */
  zones: z.array(dnsZoneSchema).optional(),
  /**
   * The service's declared backups (`services[].backup`): the role runs them on this UTC cron
   * schedule into `$SP_BACKUP_DIR` and deletes those older than `retentionDays`.
   */
  backup: z.looseObject({ schedule: z.string(), retentionDays: z.number().positive(), targetHost: z.string().optional() }).optional(),
});

type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** What the program writes (it builds values from the plan's readonly data). */
export type ReplicaRuntimeConfig = DeepReadonly<z.input<typeof replicaRuntimeConfigSchema>>;
export type DirectoryEntry = DeepReadonly<z.input<typeof directoryEntrySchema>>;
/** What the server gets after parsing. */
export type ParsedRuntimeConfig = z.output<typeof replicaRuntimeConfigSchema>;
export type ParsedDirectoryEntry = ParsedRuntimeConfig["directory"][number];
