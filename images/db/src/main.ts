/**
 * Entry point of the db image: its variables and settings, PostgreSQL, backups, readiness; the rest is images/runtime/bootstrap.ts.
 * A replica whose runtime config carries `ha` (a db service with two or more replicas) is a
 * member of a pg_auto_failover group (./ha/app.ts); every other runs one PostgreSQL (./app.ts).
 */
import { z } from "zod";
import {
  DATA_PATHS,
  DB_HA_MONITOR_PASSWORD_PATH,
  DB_HA_REPLICATION_PASSWORD_PATH,
  DB_PASSWORD_PATH,
  DB_PROBE_LOGIN_PATH,
  TLS_PATHS,
} from "../../../contracts/paths";
import { mountedCertificate, portVar, runRole, tlsEnv, type Logger, type StartedRole } from "../../runtime";
import { dbSettingsSchema } from "../../../contracts/settings/db";
import { offsiteFromEnv } from "../../runtime/backupShip";
import { startDbApp } from "./app";
import { startHaApp } from "./ha/app";
import { rolePort } from "../../../contracts/roles";

/** pg_autoctl or PostgreSQL dying on its own is fatal: exit so the container restarts and health says so. */
function fatalOnExit(log: Logger, what: string): (code: number | null) => void {
  return (code) => {
    log.fatal({ code }, `${what} exited unexpectedly`);
    process.exit(1);
  };
}

void runRole({
  name: "db",
  env: {
    SP_DB_PORT: portVar(rolePort("db", "postgres")),
    /** The data volume (ROLE_INFO.db.dataPath). */
    SP_DB_DATA: z.string().default(DATA_PATHS.db),
    /** The application role's password, written by the deployment as a secret (components/roles/db.ts). */
    SP_DB_PASSWORD_FILE: z.string().default(DB_PASSWORD_PATH),
    /** The NOC's monitoring login (user, database, SCRAM verifier; components/roles/noc.ts); absent: none. */
    SP_DB_PROBE_LOGIN_FILE: z.string().default(DB_PROBE_LOGIN_PATH),
    /** PostgreSQL's programs (copied into the image by images/db/prepare.sh). */
    SP_PG_BIN: z.string().default("/usr/lib/postgresql/15/bin"),
    ...tlsEnv,
    /** Where dumps go: a volume of their own in a deployment; without one, <SP_DB_DATA>/backups. */
    SP_BACKUP_DIR: z.string().optional(),
    /** HA only: pg_auto_failover's program (prepare.sh copies it). */
    SP_PG_AUTOCTL: z.string().default("/usr/bin/pg_autoctl"),
    /** HA only: the datacenter CA the members check each other's certificates with. */
    SP_TLS_CA: z.string().default(TLS_PATHS.ca),
    /** HA only: the group's two logins (components/roles/db.ts). */
    SP_DB_HA_MONITOR_PASSWORD_FILE: z.string().default(DB_HA_MONITOR_PASSWORD_PATH),
    SP_DB_HA_REPLICATION_PASSWORD_FILE: z.string().default(DB_HA_REPLICATION_PASSWORD_PATH),
  },
  settings: dbSettingsSchema,
  start: async ({ env, config, log }): Promise<StartedRole> => {
    const tls = mountedCertificate(env);
    // The stack's services[].backup: schedule and retention (else settings.backup.intervalMinutes).
    const backup = {
      dir: env.SP_BACKUP_DIR ?? `${env.SP_DB_DATA}/backups`,
      policy: config.backup ? { schedule: config.backup.schedule, retentionDays: config.backup.retentionDays } : {},
      // Off the host: the target host's backup store, when the deployment names one (contracts/backups.ts).
      offsite: offsiteFromEnv(config, log),
    };
    if (config.ha) {
      const app = await startHaApp({
        view: config.ha,
        binDir: env.SP_PG_BIN,
        autoctl: env.SP_PG_AUTOCTL,
        dataDir: env.SP_DB_DATA,
        listen: env.SP_LISTEN,
        port: env.SP_DB_PORT,
        settings: config.settings,
        passwordFile: env.SP_DB_PASSWORD_FILE,
        probeLoginFile: env.SP_DB_PROBE_LOGIN_FILE,
        monitorPasswordFile: env.SP_DB_HA_MONITOR_PASSWORD_FILE,
        replicationPasswordFile: env.SP_DB_HA_REPLICATION_PASSWORD_FILE,
        tls: tls ? { ...tls, caFile: env.SP_TLS_CA } : undefined,
        log,
        backup,
      });
      app.node.onUnexpectedExit = fatalOnExit(log, "pg_autoctl");
      return {
        management: { registry: app.registry, readiness: () => app.readiness(), routes: app.routes },
        managementFirst: true,
        steps: [{ name: "pg_autoctl", run: () => app.close() }],
      };
    }
    const app = await startDbApp({
      binDir: env.SP_PG_BIN,
      dataDir: env.SP_DB_DATA,
      host: env.SP_LISTEN,
      port: env.SP_DB_PORT,
      settings: config.settings,
      passwordFile: env.SP_DB_PASSWORD_FILE,
      probeLoginFile: env.SP_DB_PROBE_LOGIN_FILE,
      tls,
      log,
      backup,
    });
    app.postgres.onUnexpectedExit = fatalOnExit(log, "postgres");
    return {
      management: {
        registry: app.registry,
        readiness: () => ({ ready: app.postgres.running, details: { port: env.SP_DB_PORT } }),
        routes: app.routes,
      },
      // Health fails first, then PostgreSQL stops.
      managementFirst: true,
      steps: [{ name: "postgres", run: () => app.close() }],
    };
  },
});
