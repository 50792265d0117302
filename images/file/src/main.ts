/** Entry point of the file image: env and replica config, credentials, SFTP, backups, management, shutdown. */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { createLogger, installShutdown, loadConfig, portVar, runtimeEnv, startManagementServer } from "../../runtime";
import { CONFIG_EXIT_CODE } from "../../runtime/config";
import { loadReplicaConfig } from "../../runtime/replica";
import { fileCredentialsSchema, fileSettingsSchema } from "../settings";
import { startFileApp } from "./app";

const fileEnv = z.object({
  ...runtimeEnv,
  SP_CONFIG: z.string().optional(),
  SP_REPLICA: z.string().default("file-0"),
  SP_FILE_SFTP_PORT: portVar(22),
  /** The data volume (ROLE_INFO.file.dataPath). */
  SP_FILE_DATA: z.string().default("/var/lib/serverpark/files"),
  /** Where backups go; mount a second volume here to keep them apart from the data. */
  SP_FILE_BACKUP_DIR: z.string().default("/var/lib/serverpark/files/backups"),
  SP_FILE_CREDENTIALS: z.string().default("/etc/serverpark/secrets/file-users.json"),
});

function readCredentials(path: string): Record<string, string> {
  try {
    const parsed = fileCredentialsSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
    if (parsed.success) return parsed.data.users;
    process.stderr.write(`file: bad credentials file ${path}: ${z.prettifyError(parsed.error)}\n`);
  } catch (error) {
    process.stderr.write(`file: cannot read the credentials file ${path} (SP_FILE_CREDENTIALS): ${(error as Error).message}\n`);
  }
  process.exit(CONFIG_EXIT_CODE);
}

async function main(): Promise<void> {
  const env = loadConfig(fileEnv);
  const config = loadReplicaConfig(env.SP_CONFIG, fileSettingsSchema);
  const log = createLogger({ role: "file", level: env.SP_LOG_LEVEL, bindings: { replica: env.SP_REPLICA } });
  const app = await startFileApp({
    dataDir: env.SP_FILE_DATA,
    backupDir: env.SP_FILE_BACKUP_DIR,
    settings: config.settings,
    credentials: readCredentials(env.SP_FILE_CREDENTIALS),
    host: env.SP_LISTEN,
    sftpPort: env.SP_FILE_SFTP_PORT,
    log,
  });
  const management = await startManagementServer({
    port: env.SP_MGMT_PORT,
    host: process.env.SP_MGMT_ADDRESS ?? "0.0.0.0",
    log,
    registry: app.registry,
    readiness: () => ({ ready: true, details: { sftpPort: app.sftpPort } }),
    routes: app.routes,
  });
  installShutdown({
    log,
    deadlineMs: env.SP_SHUTDOWN_DEADLINE_MS,
    steps: [
      { name: "sftp server", run: () => app.close() },
      { name: "management server", run: () => management.close() },
    ],
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`file failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
