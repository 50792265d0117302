/** Entry point of the file image: its variables and settings, credentials, TLS, SFTP, FTP, backups, readiness; the rest is images/runtime/bootstrap.ts. */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { offsiteFromEnv } from "../../runtime/backupShip";
import { CUSTOMER_SITES_PATH, DATA_PATHS, FILE_CREDENTIALS_PATH } from "../../../contracts/paths";
import { FTP_PASSIVE_PORTS, FTP_PASSIVE_PORTS_ENV, rolePort } from "../../../contracts/roles";
import { SITES_ENV } from "../../../contracts/sites";
import { mountedCertificate, portVar, runRole, StartupError, tlsEnv } from "../../runtime";
import { fileCredentialsSchema, fileSettingsSchema } from "../../../contracts/settings/file";
import { startFileApp } from "./app";

function readCredentials(path: string): Record<string, string> {
  let parsed;
  try {
    parsed = fileCredentialsSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  } catch (error) {
    throw new StartupError(`file: cannot read the credentials file ${path} (SP_FILE_CREDENTIALS): ${(error as Error).message}`);
  }
  if (parsed.success) return parsed.data.users;
  throw new StartupError(`file: bad credentials file ${path}: ${z.prettifyError(parsed.error)}`);
}

void runRole({
  name: "file",
  env: {
    SP_FILE_SFTP_PORT: portVar(rolePort("file", "sftp")),
    SP_FILE_FTP_PORT: portVar(rolePort("file", "ftp")),
    /** Passive data ports "from-to": ROLE_INFO.file's ftp-passive ports, or the range the Docker target allocated on the machine. */
    [FTP_PASSIVE_PORTS_ENV]: z
      .string()
      .regex(/^\d{1,5}-\d{1,5}$/, "expected a port range such as 30000-30009")
      .default(`${FTP_PASSIVE_PORTS.from}-${FTP_PASSIVE_PORTS.to}`),
    /** The service certificate (components/DatacenterPki.ts), for FTPS. */
    ...tlsEnv,
    /** The data volume (ROLE_INFO.file.dataPath). */
    SP_FILE_DATA: z.string().default(DATA_PATHS.file),
    /** Where backups go: the backup volume the target mounts (SP_BACKUP_DIR), else this. */
    SP_FILE_BACKUP_DIR: z.string().default(`${DATA_PATHS.file}/backups`),
    SP_BACKUP_DIR: z.string().optional(),
    SP_FILE_CREDENTIALS: z.string().default(FILE_CREDENTIALS_PATH),
    /** Where customers' sites are published for the web replicas (the sites volume the target mounts). */
    SP_FILE_SITES_DIR: z.string().default(CUSTOMER_SITES_PATH),
    /** "1": web replicas pull the published sites from the management port (contracts/sites.ts; the Hetzner target). */
    [SITES_ENV.serve]: z.enum(["0", "1"]).default("0"),
  },
  settings: fileSettingsSchema,
  start: async ({ env, config, log, reloadingTls }) => {
    const range = env[FTP_PASSIVE_PORTS_ENV];
    const [from, to] = range.split("-").map(Number) as [number, number];
    if (!(from >= 1 && to >= from && to <= 65535 && to - from < 1000)) {
      throw new StartupError(`file: bad ${FTP_PASSIVE_PORTS_ENV} ${range}: expected from-to, at most 1000 ports`);
    }
    // Every deployed replica gets the service certificate. Without one, FTP could only run in
    // the clear, which ftp.requireTls (the default) forbids: then FTP stays off and SFTP serves.
    const certificate = mountedCertificate(env);
    const ftpOn = certificate !== undefined || !config.settings.ftp.requireTls;
    if (!ftpOn) log.error({ certFile: env.SP_TLS_CERT }, "no TLS certificate and ftp.requireTls is on: FTP is off, SFTP serves");
    const tls = certificate ? await reloadingTls(certificate) : undefined;
    const app = await startFileApp({
      dataDir: env.SP_FILE_DATA,
      backupDir: env.SP_BACKUP_DIR ?? env.SP_FILE_BACKUP_DIR,
      backupPolicy: config.backup ? { schedule: config.backup.schedule, retentionDays: config.backup.retentionDays } : {},
      settings: config.settings,
      credentials: readCredentials(env.SP_FILE_CREDENTIALS),
      ...(config.accounts ? { accounts: config.accounts, sitesDir: env.SP_FILE_SITES_DIR, serveSites: env[SITES_ENV.serve] === "1" } : {}),
      host: env.SP_LISTEN,
      sftpPort: env.SP_FILE_SFTP_PORT,
      ...(ftpOn ? { ftpPort: env.SP_FILE_FTP_PORT } : {}),
      ftpPassivePorts: { from, to },
      // Behind NAT (Hetzner) a PASV reply names the replica's planned address on the client's network.
      ftpPlanned: { addresses: config.addresses, networks: Object.fromEntries(Object.entries(config.networks).map(([id, n]) => [id, n.cidr])) },
      ...(tls ? { tls } : {}),
      log,
    });
    // Off the host: the target host's backup store, when the deployment names one (contracts/backups.ts).
    app.backups.shipTo(offsiteFromEnv(config, log));
    return {
      management: {
        registry: app.registry,
        readiness: () => ({ ready: true, details: { sftpPort: app.sftpPort, ftpPort: app.ftp?.port } }),
        routes: app.routes,
        streams: app.streams,
      },
      steps: [{ name: "sftp and ftp servers", run: () => app.close() }],
    };
  },
});
