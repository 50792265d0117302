/** Entry point of the db image: env and replica config, PostgreSQL, backups, management, shutdown. */
import { existsSync } from "node:fs";
import { z } from "zod";
import { createLogger, installShutdown, loadConfig, portVar, runtimeEnv, startManagementServer } from "../../runtime";
import { loadReplicaConfig } from "../../runtime/replica";
import { dbSettingsSchema } from "../settings";
import { startDbApp } from "./app";

const dbEnv = z.object({
  ...runtimeEnv,
  SP_CONFIG: z.string().optional(),
  SP_REPLICA: z.string().default("db-0"),
  SP_DB_PORT: portVar(5432),
  /** The data volume (ROLE_INFO.db.dataPath). */
  SP_DB_DATA: z.string().default("/var/lib/serverpark/db"),
  /** The application role's password, written by the deployment as a secret (components/roles/db.ts). */
  SP_DB_PASSWORD_FILE: z.string().default("/etc/serverpark/secrets/db-password"),
  /** The NOC's monitoring login (user, database, SCRAM verifier; components/roles/noc.ts); absent: none. */
  SP_DB_PROBE_LOGIN_FILE: z.string().default("/etc/serverpark/secrets/db-probe-login.json"),
  /** PostgreSQL's programs (copied into the image by images/db/prepare.sh). */
  SP_PG_BIN: z.string().default("/usr/lib/postgresql/15/bin"),
  SP_TLS_CERT: z.string().default("/etc/serverpark/tls/tls.crt"),
  SP_TLS_KEY: z.string().default("/etc/serverpark/tls/tls.key"),
  /** Where dumps go: a volume of their own in a deployment; without one, <SP_DB_DATA>/backups. */
  SP_BACKUP_DIR: z.string().optional(),
});

async function main(): Promise<void> {
  const env = loadConfig(dbEnv);
  const config = loadReplicaConfig(env.SP_CONFIG, dbSettingsSchema);
  const log = createLogger({ role: "db", level: env.SP_LOG_LEVEL, bindings: { replica: env.SP_REPLICA } });
  const tls = existsSync(env.SP_TLS_CERT) && existsSync(env.SP_TLS_KEY) ? { certFile: env.SP_TLS_CERT, keyFile: env.SP_TLS_KEY } : undefined;
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
  const management = await startManagementServer({
    port: env.SP_MGMT_PORT,
    host: process.env.SP_MGMT_ADDRESS ?? "0.0.0.0",
    log,
    registry: app.registry,
    readiness: () => ({ ready: app.postgres.running, details: { port: env.SP_DB_PORT } }),
    routes: app.routes,
  });
  installShutdown({
    log,
    deadlineMs: env.SP_SHUTDOWN_DEADLINE_MS,
    steps: [
      { name: "management server", run: () => management.close() },
      { name: "postgres", run: () => app.close() },
    ],
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`db failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
