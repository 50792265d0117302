/**
 * Every path inside a replica's container that both sides name: the program writes or mounts
 * it (components/), the server reads it (images/). Declared here once so neither side can
 * rename one alone. Servers take each as the default of an `SP_*` variable; the targets set
 * the variable to the same value.
 */

/** The replica's runtime config (`SP_CONFIG`; its schema is contracts/runtimeConfig.ts). */
export const RUNTIME_CONFIG_PATH = "/etc/serverpark/config.json";
/** The role's view file beside it (contracts/runtimeConfig.ts VIEW_FILE): the proxy's routes, the NOC's targets, dns zones. */
export const ROLE_VIEW_PATH = "/etc/serverpark/view.json";

/** Where every replica finds its service certificate, key and the datacenter CA (images/runtime/tls.ts). */
export const TLS_PATHS = {
  cert: "/etc/serverpark/tls/tls.crt",
  key: "/etc/serverpark/tls/tls.key",
  ca: "/etc/serverpark/tls/ca.crt",
} as const;

/**
 * The NOC's management client certificate and key (contracts/management.ts): the NOC presents
 * them when it reads other replicas' management ports.
 */
export const MANAGEMENT_CLIENT_TLS_PATHS = {
  cert: "/etc/serverpark/management-client/tls.crt",
  key: "/etc/serverpark/management-client/tls.key",
} as const;

/** Secret files the role hooks (components/roles/) write and the servers read. */
export const FILE_CREDENTIALS_PATH = "/etc/serverpark/secrets/file-users.json";
export const MAIL_CREDENTIALS_PATH = "/etc/serverpark/secrets/mail-users.json";
/** The db superuser's password, as generated (the server stores it as a SCRAM verifier). */
export const DB_PASSWORD_PATH = "/etc/serverpark/secrets/db-password";
/** On db replicas: the NOC's monitoring login (contracts/settings/db.ts dbProbeLoginSchema). */
export const DB_PROBE_LOGIN_PATH = "/etc/serverpark/secrets/db-probe-login.json";
/**
 * On the members of a highly available db group (contracts/views/db.ts): the passwords of
 * pg_auto_failover's two logins, the same for the whole group — the keepers' login on the
 * monitor (`autoctl_node`) and the standbys' replication login (`pgautofailover_replicator`).
 */
export const DB_HA_MONITOR_PASSWORD_PATH = "/etc/serverpark/secrets/db-ha-monitor-password";
export const DB_HA_REPLICATION_PASSWORD_PATH = "/etc/serverpark/secrets/db-ha-replication-password";
/** The NOC page's password (user name from the NOC's settings). */
export const NOC_PASSWORD_PATH = "/etc/serverpark/secrets/noc-password";
/** The NOC's password for its monitoring login on the db services. */
export const NOC_DB_PASSWORD_PATH = "/etc/serverpark/secrets/noc-db-password";

/** Root of the stateful roles' volumes (images/dockerfiles.ts declares it a VOLUME). */
export const DATA_ROOT = "/var/lib/serverpark";
/** Each stateful role's data directory, on its volume (contracts/roles.ts `dataPath`). */
export const DATA_PATHS = {
  mail: `${DATA_ROOT}/mail`,
  file: `${DATA_ROOT}/files`,
  db: `${DATA_ROOT}/db`,
} as const;
/**
 * The proxy's ACME state when customers' certificates come from an ACME CA (images/proxy/src/acme.ts):
 * its account key and each customer's key and certificate, on a volume of its own.
 */
export const PROXY_ACME_PATH = `${DATA_ROOT}/acme`;
/**
 * Hosting customers' published sites (images/file/src/sites.ts): the file service writes
 * `<account>/current` here and the web replicas mount the same volume read-only here.
 */
export const CUSTOMER_SITES_PATH = "/srv/sites";
/** The folder of a customer's file account that is their site's document root. */
export const CUSTOMER_SITE_FOLDER = "public_html";
/** Where a stateful replica's backups are mounted (`SP_BACKUP_DIR`) when its service declares `backup`. */
export const BACKUP_PATH = `${DATA_ROOT}/backup`;
