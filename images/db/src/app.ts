/**
 * The db role assembled: PostgreSQL under supervision, provisioning from the settings,
 * dumps on a schedule and on demand, and the management routes that expose them:
 *   GET  /backups            list the dumps on the volume
 *   POST /backups            dump every database now
 *   POST /restore {file}     restore one dump (into its database)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Gauge, Registry } from "prom-client";
import { z } from "zod";
import type { BackupPolicy } from "../../runtime/backups";
import { HttpError, type Route } from "../../runtime/management";
import type { Logger } from "../../runtime/log";
import { dbProbeLoginSchema, type DbProbeLogin, type DbSettings } from "../../../contracts/settings/db";
import { Backups, type Offsite } from "./backup";
import { Postgres, privateKeyCopy } from "./postgres";
import { provision, type SuperuserLogin } from "./provision";

export interface DbAppOptions {
  readonly binDir: string;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly settings: DbSettings;
  /** File holding the application role's password (a Pulumi secret). */
  readonly passwordFile: string;
  /** File with the monitoring login (user, database, SCRAM verifier); absent: no such login. */
  readonly probeLoginFile?: string;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Private scratch folder (unix socket, key copy); not on the volume. @default /tmp/serverpark-db */
  readonly runDir?: string;
  readonly log: Logger;
  readonly registry?: Registry;
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /** Backup folder and the stack's declared schedule/retention. @default {dir: <dataDir>/backups, policy: {}} */
  readonly backup?: { readonly dir: string; readonly policy: BackupPolicy; readonly offsite?: Offsite };
}

export interface DbApp {
  readonly postgres: Postgres;
  readonly backups: Backups;
  readonly registry: Registry;
  readonly routes: Route[];
  close(): Promise<void>;
}

/** The monitoring login, if its file exists; a malformed file is a deployment error. */
export function readProbeLogin(file: string | undefined): DbProbeLogin | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`the monitoring login file ${file} is not JSON`);
  }
  const parsed = dbProbeLoginSchema.safeParse(raw);
  // The message names the fields only: the file's values are secret.
  if (!parsed.success)
    throw new Error(`the monitoring login file ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

export async function startDbApp(options: DbAppOptions): Promise<DbApp> {
  const runDir = options.runDir ?? "/tmp/serverpark-db";
  const tls = options.tls ? { certFile: options.tls.certFile, keyFile: privateKeyCopy(options.tls.keyFile, runDir, options.runAs) } : undefined;
  const postgres = new Postgres({
    binDir: options.binDir,
    dataDir: options.dataDir,
    host: options.host,
    port: options.port,
    socketDir: runDir,
    settings: options.settings,
    tls,
    log: options.log,
    runAs: options.runAs,
  });
  // Read before PostgreSQL starts: a bad file stops start-up without leaving a server behind.
  const probeLogin = readProbeLogin(options.probeLoginFile);
  // pg_hba.conf admits network logins over TLS only (postgres.ts hbaLines).
  if (!tls) options.log.warn({}, "no service certificate: every network login is refused (TLS only), the unix socket still works");
  await postgres.start();
  await provisionLogged(postgres.superuserLogin(), options.settings, readAppPassword(options.passwordFile), probeLogin, options.log);
  const backups = new Backups(postgres, options.backup?.dir ?? join(options.dataDir, "backups"), options.settings, options.log, options.backup?.policy);
  backups.offsite = options.backup?.offsite;
  backups.start();
  options.log.info(
    { port: options.port, databases: options.settings.databases, user: options.settings.user, monitoringLogin: probeLogin?.user },
    "database server ready",
  );

  const registry = dbGauges(options.registry ?? new Registry(), () => postgres.running, backups);
  const routes = backupRoutes(backups);
  return {
    postgres,
    backups,
    registry,
    routes,
    async close() {
      backups.stop();
      await postgres.stop();
    },
  };
}

/** db_up (PostgreSQL runs) and, with backups, db_backups (dumps on the volume). */
export function dbGauges(registry: Registry, up: () => boolean, backups?: Backups): Registry {
  new Gauge({
    name: "db_up",
    help: "1 while the PostgreSQL process runs",
    registers: [registry],
    collect() {
      this.set(up() ? 1 : 0);
    },
  });
  if (backups)
    new Gauge({
      name: "db_backups",
      help: "Dumps kept on the volume",
      registers: [registry],
      async collect() {
        this.set((await backups.list()).length);
      },
    });
  return registry;
}

/** The application role's password from its secret file (at least 8 characters). */
export function readAppPassword(file: string): string {
  const password = readFileSync(file, "utf8").trim();
  if (password.length < 8) throw new Error(`the password in ${file} is shorter than 8 characters`);
  return password;
}

/** Provisioning (./provision.ts) with its outcome logged: a left-out or disabled monitoring login is a log line, not a failure. */
export async function provisionLogged(
  login: SuperuserLogin,
  settings: DbSettings,
  password: string,
  probeLogin: DbProbeLogin | undefined,
  log: Logger,
): Promise<void> {
  const { problems, disabled } = await provision(login, settings, password, probeLogin);
  for (const problem of problems) log.error({ user: probeLogin?.user }, `monitoring login left out: ${problem}`);
  if (disabled.length > 0) log.warn({ roles: disabled }, "earlier monitoring logins are no longer configured: NOLOGIN, CONNECT revoked");
}

/** GET /backups, POST /backups, POST /restore (see the top of this file). */
export function backupRoutes(backups: Backups): Route[] {
  const restoreBody = z.object({ file: z.string().min(1), database: z.string().optional() });
  return [
    { method: "GET", path: "/backups", handler: async () => ({ status: 200, body: await backups.list() }) },
    { method: "POST", path: "/backups", handler: async () => ({ status: 201, body: await backups.dumpAll() }) },
    {
      method: "POST",
      path: "/restore",
      handler: async ({ body }) => {
        const parsed = restoreBody.safeParse(body);
        if (!parsed.success) throw new HttpError(400, 'expected {"file": "<name from GET /backups>"}');
        try {
          await backups.restore(parsed.data.file, parsed.data.database);
        } catch (error) {
          throw new HttpError(422, `restore failed, database unchanged: ${(error as Error).message.slice(0, 500)}`);
        }
        return { status: 200, body: { restored: parsed.data.file } };
      },
    },
  ];
}
