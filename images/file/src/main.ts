/** Entry point of the file image: env and replica config, credentials, TLS, SFTP, FTP, backups, management, shutdown. */
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { FTP_PASSIVE_PORTS } from "../../../components/model/roles";
import { createLogger, createReloadingTls, installShutdown, loadConfig, portVar, runtimeEnv, startManagementServer } from "../../runtime";
import { CONFIG_EXIT_CODE } from "../../runtime/config";
import { loadReplicaConfig } from "../../runtime/replica";
import { fileCredentialsSchema, fileSettingsSchema } from "../settings";
import { startFileApp } from "./app";

const fileEnv = z.object({
  ...runtimeEnv,
  SP_CONFIG: z.string().optional(),
  SP_REPLICA: z.string().default("file-0"),
  SP_FILE_SFTP_PORT: portVar(22),
  SP_FILE_FTP_PORT: portVar(21),
  /** Passive data ports "from-to"; the plan exposes exactly ROLE_INFO.file's ftp-passive ports. */
  SP_FILE_FTP_PASSIVE_PORTS: z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, "expected a port range such as 30000-30009")
    .default(`${FTP_PASSIVE_PORTS.from}-${FTP_PASSIVE_PORTS.to}`),
  /** The service certificate (components/DatacenterPki.ts), for FTPS. */
  SP_TLS_CERT: z.string().default("/etc/serverpark/tls/tls.crt"),
  SP_TLS_KEY: z.string().default("/etc/serverpark/tls/tls.key"),
  /** The data volume (ROLE_INFO.file.dataPath). */
  SP_FILE_DATA: z.string().default("/var/lib/serverpark/files"),
  /** Where backups go: the backup volume the target mounts (SP_BACKUP_DIR), else this. */
  SP_FILE_BACKUP_DIR: z.string().default("/var/lib/serverpark/files/backups"),
  SP_BACKUP_DIR: z.string().optional(),
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
  const [from, to] = env.SP_FILE_FTP_PASSIVE_PORTS.split("-").map(Number) as [number, number];
  if (!(from >= 1 && to >= from && to <= 65535 && to - from < 1000)) {
    process.stderr.write(`file: bad SP_FILE_FTP_PASSIVE_PORTS ${env.SP_FILE_FTP_PASSIVE_PORTS}: expected from-to, at most 1000 ports\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  // Every deployed replica gets the service certificate. Without one, FTP could only run in
  // the clear, which ftp.requireTls (the default) forbids: then FTP stays off and SFTP serves.
  const haveCert = existsSync(env.SP_TLS_CERT) && existsSync(env.SP_TLS_KEY);
  const ftpOn = haveCert || !config.settings.ftp.requireTls;
  if (!ftpOn) log.error({ certFile: env.SP_TLS_CERT }, "no TLS certificate and ftp.requireTls is on: FTP is off, SFTP serves");
  const tls = haveCert ? await createReloadingTls({ certFile: env.SP_TLS_CERT, keyFile: env.SP_TLS_KEY }, log) : undefined;
  const stopWatch = tls?.watch();
  const app = await startFileApp({
    dataDir: env.SP_FILE_DATA,
    backupDir: env.SP_BACKUP_DIR ?? env.SP_FILE_BACKUP_DIR,
    backupPolicy: config.backup ? { schedule: config.backup.schedule, retentionDays: config.backup.retentionDays } : {},
    settings: config.settings,
    credentials: readCredentials(env.SP_FILE_CREDENTIALS),
    host: env.SP_LISTEN,
    sftpPort: env.SP_FILE_SFTP_PORT,
    ...(ftpOn ? { ftpPort: env.SP_FILE_FTP_PORT } : {}),
    ftpPassivePorts: { from, to },
    // Behind NAT (Hetzner) a PASV reply names the replica's planned address on the client's network.
    ftpPlanned: { addresses: config.addresses, networks: config.networks },
    ...(tls ? { tls } : {}),
    log,
  });
  const management = await startManagementServer({
    port: env.SP_MGMT_PORT,
    host: process.env.SP_MGMT_ADDRESS ?? "0.0.0.0",
    log,
    registry: app.registry,
    readiness: () => ({ ready: true, details: { sftpPort: app.sftpPort, ftpPort: app.ftp?.port } }),
    routes: app.routes,
  });
  installShutdown({
    log,
    deadlineMs: env.SP_SHUTDOWN_DEADLINE_MS,
    steps: [
      { name: "sftp and ftp servers", run: () => (stopWatch?.(), app.close()) },
      { name: "management server", run: () => management.close() },
    ],
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`file failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
