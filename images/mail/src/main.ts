/** Entry point of the mail image: its variables and settings, credentials, TLS, servers, readiness; the rest is images/runtime/bootstrap.ts. */
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { offsiteFromEnv } from "../../runtime/backupShip";
import { DATA_PATHS, MAIL_CREDENTIALS_PATH, TLS_PATHS } from "../../../contracts/paths";
import { portVar, runRole, StartupError, tlsEnv } from "../../runtime";
import { HttpError } from "../../runtime/management";
import { mailCredentialsSchema, mailSettingsSchema } from "../../../contracts/settings/mail";
import { startMailApp } from "./app";
import { restoreMailBackup } from "./restore";
import { rolePort } from "../../../contracts/roles";

function readCredentials(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new StartupError(`mail: cannot read the credentials file ${path} (SP_MAIL_CREDENTIALS): ${(error as NodeJS.ErrnoException).code}`);
  }
  const parsed = mailCredentialsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new StartupError(`mail: bad credentials file ${path}: ${z.prettifyError(parsed.error)}`);
  return parsed.data.users;
}

const restoreBody = z.object({ name: z.string(), user: z.string().optional() });

void runRole({
  name: "mail",
  env: {
    SP_MAIL_SMTP_PORT: portVar(rolePort("mail", "smtp")),
    SP_MAIL_SUBMISSION_PORT: portVar(rolePort("mail", "submission")),
    SP_MAIL_IMAPS_PORT: portVar(rolePort("mail", "imaps")),
    SP_MAIL_POP3S_PORT: portVar(rolePort("mail", "pop3s")),
    /** The data volume (ROLE_INFO.mail.dataPath). */
    SP_MAIL_DATA: z.string().default(DATA_PATHS.mail),
    /** Users' password hashes, written by the deployment as a secret (components/roles/mail.ts). */
    SP_MAIL_CREDENTIALS: z.string().default(MAIL_CREDENTIALS_PATH),
    ...tlsEnv,
    /** The datacenter CA, trusted for the smarthost's certificate when present. */
    SP_TLS_CA: z.string().default(TLS_PATHS.ca),
    /** Where backups go: a volume of their own in a deployment; without one, <SP_MAIL_DATA>/backups. */
    SP_BACKUP_DIR: z.string().optional(),
  },
  settings: mailSettingsSchema,
  start: async ({ env, config, log, reloadingTls }) => {
    const credentials = readCredentials(env.SP_MAIL_CREDENTIALS);
    const tls = await reloadingTls({ certFile: env.SP_TLS_CERT, keyFile: env.SP_TLS_KEY });
    const app = await startMailApp({
      dataDir: env.SP_MAIL_DATA,
      domain: String(config.domain),
      hostname: `${String(config.service)}.${String(config.domain)}`,
      settings: config.settings,
      credentials,
      // Hosting customers' mailboxes and domains (contracts/views/mail.ts), from the view.
      mailboxes: config.mail?.mailboxes ?? [],
      customerDomains: config.mail?.domains ?? [],
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
    // Off the host: the target host's backup store, when the deployment names one (contracts/backups.ts).
    app.backups.offsite = offsiteFromEnv(config, log);
    return {
      management: {
        registry: app.registry,
        readiness: () => ({
          ready: true,
          details: { queue: app.queue.size, ports: app.ports, quarantinedMailboxes: app.store.quarantined.map((q) => q.path) },
        }),
        routes: [
          { method: "GET", path: "/queue", handler: () => ({ status: 200, body: app.queue.list() }) },
          {
            method: "GET",
            path: "/backups",
            handler: async () => ({ status: 200, body: { next: app.backups.nextRun() ?? null, backups: await app.backups.list() } }),
          },
          { method: "POST", path: "/backups", handler: async () => ({ status: 201, body: await app.backups.run() }) },
          {
            // Puts a backup's messages back (images/mail/src/restore.ts), fetched from the target host's store when only it has it.
            method: "POST",
            path: "/backups/restore",
            handler: async ({ body }) => {
              const b = restoreBody.safeParse(body);
              if (!b.success) throw new HttpError(400, 'expected {"name", "user"?}');
              if (b.data.user !== undefined && !app.store.has(b.data.user)) throw new HttpError(404, `no such user: ${b.data.user}`);
              const dir = await app.backups.path(b.data.name).catch((error: Error) => {
                throw new HttpError(404, error.message);
              });
              return { status: 200, body: { name: b.data.name, ...(await restoreMailBackup(dir, app.store, b.data.user)) } };
            },
          },
        ],
      },
      steps: [{ name: "mail servers", run: () => app.close() }],
    };
  },
});
