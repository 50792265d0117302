/**
 * Backups that leave the host (issue #17): each stateful replica ships every finished backup
 * over the management network to the backup store of its service's `backup.targetHost`, kept
 * by that host's agent (images/host-agent/src/store.ts) on a volume of its own. The program
 * issues each such replica a client certificate naming it (components/DatacenterService.ts)
 * and tells it where the store is; the agent is told which services may store there and for
 * how long it keeps their copies. Declared once here so neither side can change a name alone.
 *
 *   PUT /backups/<service>/<replica>/<name>   store one copy (body: the file; header: its SHA-256)
 *   GET /backups/<service>                    list the service's copies (every replica's)
 *   GET /backups/<service>/<replica>/<name>   fetch one copy
 *
 * A replica may write only under its own name and read only its own service's copies; nobody
 * deletes a copy over the network: the store alone applies the service's retention, and never
 * deletes the newest copy of a replica.
 *
 * Each service has a quota in the store (`quotaBytes`, else DEFAULT_BACKUP_QUOTA_BYTES): the
 * bytes of all its replicas' copies, plus those being received. An upload that would pass it
 * is refused with 507 before its body is read (its content-length counts) and nothing of it is
 * kept; the store never deletes copies to make room, not even the same replica's older ones (a
 * compromised replica could otherwise push its good history out with junk): room comes back as
 * retention deletes old copies, which it does before each upload is weighed.
 */
import { z } from "zod";
import { DATA_ROOT } from "./paths";

/** The organizational unit of a backup client certificate; its common name is `<service>/<replica>`. */
export const BACKUP_CLIENT_OU = "serverpark backup client";

/** Where a replica finds its backup client certificate and key. */
export const BACKUP_CLIENT_TLS_PATHS = {
  cert: "/etc/serverpark/backup-client/tls.crt",
  key: "/etc/serverpark/backup-client/tls.key",
} as const;

/** Where the host agent keeps the backup store (a volume of its own). */
export const BACKUP_STORE_PATH = `${DATA_ROOT}/backup-store`;

/** The store's routes live under this prefix on the agent's management port. */
export const BACKUP_STORE_PREFIX = "/backups/";

/** The request (PUT) and response (GET of a copy) header carrying the copy's SHA-256, hex. */
export const BACKUP_SHA256_HEADER = "x-serverpark-sha256";

/** The environment the program sets and the servers read. */
export const BACKUP_ENV = {
  /** On a stateful replica: `https://<target agent's management address>:<port>`. */
  storeUrl: "SP_BACKUP_STORE_URL",
  /** On a stateful replica: the host id of that store (its `backup.targetHost`). */
  storeHost: "SP_BACKUP_STORE_HOST",
  /** On a host agent: JSON list of the services that store there (backupClientsSchema). */
  clients: "SP_BACKUP_CLIENTS",
  /** On a host agent: the largest copy it accepts, bytes. */
  maxBytes: "SP_BACKUP_MAX_BYTES",
} as const;

/** The largest copy a store accepts unless told otherwise: 4 GiB. */
export const DEFAULT_BACKUP_MAX_BYTES = 4 * 1024 ** 3;

/**
 * The bytes a service's copies may take in a store unless its client entry says otherwise:
 * 32 GiB (e.g. two weeks of daily 2 GiB dumps), so that one compromised service fills at most
 * that much of the target host's disk.
 */
export const DEFAULT_BACKUP_QUOTA_BYTES = 32 * 1024 ** 3;

/** The status a store answers when a copy would pass the service's quota (or the disk is full). */
export const BACKUP_STORE_FULL = 507;

const NAME = /^[a-z][a-z0-9-]{0,63}$/;
/** A copy's name: one file name, stamped with the UTC time it was taken (…20261127T020000123Z…). */
export const BACKUP_OBJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
const STAMP = /\d{8}T\d{9}Z/;

/** The services that may store on one host, how long their copies are kept and how many bytes they may take. */
export const backupClientsSchema = z.array(
  z.strictObject({
    service: z.string().regex(NAME),
    retentionDays: z.number().int().positive(),
    /** @default DEFAULT_BACKUP_QUOTA_BYTES */
    quotaBytes: z.number().int().positive().optional(),
  }),
);
export type BackupClients = z.output<typeof backupClientsSchema>;

/** One stored copy, as `GET /backups/<service>` lists it. */
export const storedCopySchema = z.strictObject({
  service: z.string(),
  replica: z.string(),
  name: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  takenAt: z.string(),
});
export type StoredCopy = z.output<typeof storedCopySchema>;

export interface BackupClient {
  readonly service: string;
  readonly replica: string;
}

/** The common name of a replica's backup client certificate. */
export function backupClientName(client: BackupClient): string {
  return `${client.service}/${client.replica}`;
}

/** The client a certificate's common name stands for, or undefined. */
export function parseBackupClientName(name: string): BackupClient | undefined {
  const [service, replica, ...rest] = name.split("/");
  return rest.length === 0 && service && replica && NAME.test(service) && NAME.test(replica) ? { service, replica } : undefined;
}

/** Whether a name is one a copy may have; returns the time in its stamp. */
export function copyTime(name: string): Date | undefined {
  if (!BACKUP_OBJECT_NAME.test(name) || name.endsWith(".partial")) return undefined;
  const stamp = STAMP.exec(name)?.[0];
  if (!stamp) return undefined;
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 18)}Z`;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) || date.toISOString() !== iso ? undefined : date;
}

/**
 * What a backup client may do: write only under its own replica's name, read every copy of its
 * own service (a replica rebuilt elsewhere, or another member of the group, restores from them).
 */
export function mayUseStore(client: BackupClient, service: string, replica: string | undefined, access: "read" | "write"): boolean {
  if (client.service !== service) return false;
  return access === "read" || client.replica === replica;
}
