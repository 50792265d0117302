/** Entry point of the db image: its variables and settings, PostgreSQL, backups, readiness; the rest is images/runtime/bootstrap.ts. */
import { z } from "zod";
import { DATA_PATHS, DB_PASSWORD_PATH, DB_PROBE_LOGIN_PATH } from "../../../contracts/paths";
import { mountedCertificate, portVar, runRole, tlsEnv } from "../../runtime";
import { dbSettingsSchema } from "../../../contracts/settings/db";
import { startDbApp } from "./app";
import { rolePort } from "../../../contracts/roles";

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
  },
  settings: dbSettingsSchema,
  start: async ({ env, config, log }) => {
    const tls = mountedCertificate(env);
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
      // The stack's services[].backup: schedule and retention (else settings.backup.intervalMinutes).
      backup: {
        dir: env.SP_BACKUP_DIR ?? `${env.SP_DB_DATA}/backups`,
        policy: config.backup ? { schedule: config.backup.schedule, retentionDays: config.backup.retentionDays } : {},
      },
    });
    // PostgreSQL dying on its own is fatal: exit so the container restarts and health says so.
    app.postgres.onUnexpectedExit = (code) => {
      log.fatal({ code }, "postgres exited unexpectedly");
      process.exit(1);
    };
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
