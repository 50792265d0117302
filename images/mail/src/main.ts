/** Entry point of the mail image: env and replica config, credentials, TLS, servers, management, shutdown. */
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { createLogger, createReloadingTls, installShutdown, loadConfig, portVar, runtimeEnv, startManagementServer } from "../../runtime";
import { CONFIG_EXIT_CODE } from "../../runtime/config";
import { loadReplicaConfig } from "../../runtime/replica";
import { mailCredentialsSchema, mailSettingsSchema } from "../settings";
import { startMailApp } from "./app";

const mailEnv = z.object({
  ...runtimeEnv,
  SP_CONFIG: z.string().optional(),
  SP_REPLICA: z.string().default("mail-0"),
  SP_MAIL_SMTP_PORT: portVar(25),
  SP_MAIL_SUBMISSION_PORT: portVar(587),
  SP_MAIL_IMAPS_PORT: portVar(993),
  SP_MAIL_POP3S_PORT: portVar(995),
  /** The data volume (ROLE_INFO.mail.dataPath). */
  SP_MAIL_DATA: z.string().default("/var/lib/serverpark/mail"),
  /** Users' password hashes, written by the deployment as a secret (components/roles/mail.ts). */
  SP_MAIL_CREDENTIALS: z.string().default("/etc/serverpark/secrets/mail-users.json"),
  SP_TLS_CERT: z.string().default("/etc/serverpark/tls/tls.crt"),
  SP_TLS_KEY: z.string().default("/etc/serverpark/tls/tls.key"),
  /** The datacenter CA, trusted for the smarthost's certificate when present. */
  SP_TLS_CA: z.string().default("/etc/serverpark/tls/ca.crt"),
  /** Where backups go: a volume of their own in a deployment; without one, <SP_MAIL_DATA>/backups. */
  SP_BACKUP_DIR: z.string().optional(),
});

function readCredentials(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    process.stderr.write(`mail: cannot read the credentials file ${path} (SP_MAIL_CREDENTIALS): ${(error as NodeJS.ErrnoException).code}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  const parsed = mailCredentialsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    process.stderr.write(`mail: bad credentials file ${path}: ${z.prettifyError(parsed.error)}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  return parsed.data.users;
}

async function main(): Promise<void> {
  const env = loadConfig(mailEnv);
  const config = loadReplicaConfig(env.SP_CONFIG, mailSettingsSchema);
  const log = createLogger({ role: "mail", level: env.SP_LOG_LEVEL, bindings: { replica: env.SP_REPLICA } });
  const credentials = readCredentials(env.SP_MAIL_CREDENTIALS);
  const tls = await createReloadingTls({ certFile: env.SP_TLS_CERT, keyFile: env.SP_TLS_KEY }, log);
  const stopWatch = tls.watch();
  const app = await startMailApp({
    dataDir: env.SP_MAIL_DATA,
    domain: String(config.domain),
    hostname: `${String(config.service)}.${String(config.domain)}`,
    settings: config.settings,
    credentials,
    tls,
    host: env.SP_LISTEN,
    ports: { smtp: env.SP_MAIL_SMTP_PORT, submission: env.SP_MAIL_SUBMISSION_PORT, imaps: env.SP_MAIL_IMAPS_PORT, pop3s: env.SP_MAIL_POP3S_PORT },
    log,
    ca: existsSync(env.SP_TLS_CA) ? readFileSync(env.SP_TLS_CA) : undefined,
    // The stack's services[].backup: schedule and retention; none means on demand only.
    backup: {
      dir: env.SP_BACKUP_DIR ?? `${env.SP_MAIL_DATA}/backups`,
      policy: config.backup ? { schedule: config.backup.schedule, retentionDays: config.backup.retentionDays } : {},
    },
  });
  const management = await startManagementServer({
    port: env.SP_MGMT_PORT,
    host: process.env.SP_MGMT_ADDRESS ?? "0.0.0.0",
    log,
    registry: app.registry,
    readiness: () => ({ ready: true, details: { queue: app.queue.size, ports: app.ports } }),
    routes: [
      { method: "GET", path: "/queue", handler: () => ({ status: 200, body: app.queue.list() }) },
      {
        method: "GET",
        path: "/backups",
        handler: async () => ({ status: 200, body: { next: app.backups.nextRun() ?? null, backups: await app.backups.list() } }),
      },
      { method: "POST", path: "/backups", handler: async () => ({ status: 201, body: await app.backups.run() }) },
    ],
  });
  installShutdown({
    log,
    deadlineMs: env.SP_SHUTDOWN_DEADLINE_MS,
    steps: [
      { name: "mail servers", run: () => app.close() },
      { name: "management server", run: async () => (stopWatch(), management.close()) },
    ],
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`mail failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
