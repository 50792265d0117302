/**
 * The files the HA supervisor writes around pg_auto_failover (pure functions, no I/O):
 * pg_hba.conf and pg_ident.conf (pg_autoctl runs with --skip-pg-hba: the rules are ours),
 * the PostgreSQL settings included after pg_autoctl's own, the monitor's failure-detection
 * settings, and the libpq password file that keeps passwords off command lines and out of
 * pg_autoctl's configuration. Why pg_auto_failover and how the timings relate: ../../README.md.
 */

/** The login pg_autoctl uses on the monitor (the `autoctl_node` role the extension creates). */
export const MONITOR_USER = "autoctl_node";
/** The login standbys stream with (and pg_rewind reads the new primary with). */
export const REPLICATION_USER = "pgautofailover_replicator";
/** The monitor's database. */
export const MONITOR_DATABASE = "pg_auto_failover";
/** The pg_ident.conf map that lets local operating-system users in as the superuser. */
export const IDENT_MAP = "serverpark";

export { DEFAULT_TIMINGS, type HaTimings } from "../../../../contracts/dbHa";
import { type HaTimings } from "../../../../contracts/dbHa";

/**
 * The keeper checks for a partition once per loop; a loop that cannot reach the monitor waits
 * for pg_autoctl's own connect timeout (2 s) first. The isolated primary is down by
 * networkPartitionSeconds + this margin at the latest.
 */
export const PARTITION_DETECTION_MARGIN_MS = 3000;

export function checkTimings(t: HaTimings): void {
  if (!Number.isInteger(t.networkPartitionSeconds) || t.networkPartitionSeconds < 1) throw new Error("networkPartitionSeconds must be a whole number ≥ 1");
  if (t.networkPartitionSeconds * 1000 + PARTITION_DETECTION_MARGIN_MS >= t.unhealthyTimeoutMs + t.primaryDemoteTimeoutMs)
    throw new Error(
      `split brain possible: an isolated primary demotes itself after ${t.networkPartitionSeconds} s (+${PARTITION_DETECTION_MARGIN_MS / 1000} s to notice), but the standby may be promoted after ${(t.unhealthyTimeoutMs + t.primaryDemoteTimeoutMs) / 1000} s`,
    );
}

/** CIDR for a bare address (IPv4 /32, IPv6 /128); a CIDR stays as it is. */
export function cidr(address: string): string {
  if (address.includes("/")) return address;
  return address.includes(":") ? `${address}/128` : `${address}/32`;
}

export interface HbaInput {
  readonly kind: "monitor" | "postgres";
  /** Addresses or CIDRs of the other members (data nodes; the monitor needs none: its checks only need an answer). */
  readonly peers: readonly string[];
  /** Rules for the application's clients, appended as given (e.g. hostssl … scram-sha-256). */
  readonly clientRules?: readonly string[];
}

/**
 * Local: the superuser only through the private socket and pg_ident's map (peer: the
 * operating-system user is checked by the kernel). Network: TLS and SCRAM only, and only the
 * two pg_auto_failover logins from the peers; the application's rules come from the caller.
 */
export function hbaConf(input: HbaInput): string {
  const lines = [`local all all peer map=${IDENT_MAP}`];
  for (const peer of input.peers.map(cidr)) {
    if (input.kind === "monitor") lines.push(`hostssl ${MONITOR_DATABASE} ${MONITOR_USER} ${peer} scram-sha-256`);
    else lines.push(`hostssl replication ${REPLICATION_USER} ${peer} scram-sha-256`, `hostssl postgres ${REPLICATION_USER} ${peer} scram-sha-256`);
  }
  lines.push(...(input.clientRules ?? []));
  return `# written by the serverpark db role (HA) at every start\n${lines.join("\n")}\n`;
}

/** Which operating-system users may log in locally as which database roles. */
export function identConf(systemUsers: readonly string[], databaseRoles: readonly string[]): string {
  const lines = systemUsers.flatMap((os) => databaseRoles.map((role) => `${IDENT_MAP} ${os} ${role}`));
  return `# written by the serverpark db role (HA) at every start\n${lines.join("\n")}\n`;
}

export interface SettingsInput {
  readonly socketDir: string;
  readonly maxConnections: number;
  readonly sharedBuffersMb: number;
  /** The monitor's failure detection (monitor only). */
  readonly monitorTimings?: HaTimings;
}

/**
 * Included after pg_autoctl's postgresql-auto-failover.conf, so these win over its
 * machine-sized defaults (it sizes shared_buffers to a quarter of the host's RAM).
 * synchronous_standby_names is left to pg_autoctl (ALTER SYSTEM): it follows the group's state.
 */
export function settingsConf(input: SettingsInput): string {
  const lines = [
    `unix_socket_directories = '${input.socketDir}'`,
    `max_connections = ${input.maxConnections}`,
    `shared_buffers = ${input.sharedBuffersMb}MB`,
    "password_encryption = 'scram-sha-256'",
    "fsync = on",
    "synchronous_commit = on",
    "full_page_writes = on",
    "wal_log_hints = on",
    // pg_autoctl logs DDL; role passwords must not reach a log.
    "log_statement = 'none'",
    "timezone = 'UTC'",
    "log_timezone = 'UTC'",
  ];
  const t = input.monitorTimings;
  if (t)
    lines.push(
      `pgautofailover.health_check_period = ${t.healthCheckPeriodMs}`,
      `pgautofailover.health_check_timeout = ${t.healthCheckTimeoutMs}`,
      `pgautofailover.health_check_max_retries = ${t.healthCheckMaxRetries}`,
      `pgautofailover.health_check_retry_delay = ${t.healthCheckRetryDelayMs}`,
      `pgautofailover.node_considered_unhealthy_timeout = ${t.unhealthyTimeoutMs}`,
      `pgautofailover.primary_demote_timeout = ${t.primaryDemoteTimeoutMs}`,
      `pgautofailover.startup_grace_period = ${t.startupGracePeriodMs}`,
    );
  return `# written by the serverpark db role (HA) at every start\n${lines.join("\n")}\n`;
}

/** The include line added (once) to postgresql.conf, after pg_autoctl's own includes. */
export const SETTINGS_FILE = "serverpark-ha.conf";
export const INCLUDE_LINE = `include_if_exists '${SETTINGS_FILE}'`;

/** postgresql.conf with our include as its last line (moved there if pg_autoctl appended after it). */
export function withInclude(postgresqlConf: string): string {
  const rest = postgresqlConf
    .split("\n")
    .filter((line) => line.trim() !== INCLUDE_LINE)
    .join("\n")
    .replace(/\n*$/, "\n");
  return `${rest}${INCLUDE_LINE}\n`;
}

function pgpassField(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
}

/** ~/.pgpass lines (libpq's password file) for the two pg_auto_failover logins. */
export function pgpass(passwords: { readonly monitor: string; readonly replication: string }): string {
  // The monitor has no replication password (it never receives one): no line for it.
  const lines = [`*:*:${MONITOR_DATABASE}:${MONITOR_USER}:${pgpassField(passwords.monitor)}`];
  if (passwords.replication) lines.push(`*:*:*:${REPLICATION_USER}:${pgpassField(passwords.replication)}`);
  return [...lines, ""].join("\n");
}

/**
 * The monitor's connection URI for pg_autoctl (no password: that is in the password file).
 * With `caFile` libpq checks the monitor's certificate against it (verify-full needs it:
 * libpq's default root certificate file is in the home folder, which holds none).
 */
export function monitorUri(host: string, port: number, sslMode: string, caFile?: string): string {
  const h = host.includes(":") ? `[${host}]` : host;
  const ca = caFile ? `&sslrootcert=${caFile}` : "";
  return `postgres://${MONITOR_USER}@${h}:${port}/${MONITOR_DATABASE}?sslmode=${sslMode}${ca}`;
}
