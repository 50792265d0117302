/**
 * The db role as one member of a highly available group (its runtime config's `ha` view,
 * contracts/views/db.ts): pg_auto_failover under our supervisor (./node.ts), and around it
 * what the single server does (../app.ts), moved to where it belongs in a group:
 * - provisioning (application role, databases, the NOC's login) runs on the **primary**, each
 *   time this node becomes primary: the standbys receive it by replication, and a rotated
 *   password applies after a failover too;
 * - every data node dumps on the schedule into its own backup volume (pg_dump reads a hot
 *   standby as well as the primary); restores work on the primary only (a standby is read only);
 * - management routes: GET /cluster (./routes.ts) and, on data nodes, the backup routes;
 * - readiness: the monitor answers, or this node is the primary or a streaming standby.
 * The monitor provisions nothing and dumps nothing. Why and how: ../../README.md "High availability".
 */
import { userInfo } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import type { BackupPolicy } from "../../../runtime/backups";
import type { Logger } from "../../../runtime/log";
import type { Route } from "../../../runtime/management";
import type { DbSettings } from "../../../../contracts/settings/db";
import type { DbHaView } from "../../../../contracts/views/db";
import { backupRoutes, dbGauges, provisionLogged, readAppPassword, readProbeLogin } from "../app";
import { Backups, type DbTools, type Offsite } from "../backup";
import { privateKeyCopy } from "../postgres";
import { HaNode, type LocalRole } from "./node";
import { haRoutes } from "./routes";

export interface HaAppOptions {
  readonly view: DbHaView;
  readonly binDir: string;
  /** @default /usr/bin/pg_autoctl */
  readonly autoctl?: string;
  readonly dataDir: string;
  /** PostgreSQL's listen address (0.0.0.0: every address). */
  readonly listen: string;
  readonly port: number;
  readonly settings: DbSettings;
  readonly passwordFile: string;
  readonly probeLoginFile?: string;
  /** The two logins of the group (Pulumi secrets, the same for every member). */
  readonly monitorPasswordFile: string;
  readonly replicationPasswordFile: string;
  /** The service certificate, its key and the datacenter CA: members check each other with sslmode verify-full. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
  /** @default /tmp/serverpark-db */
  readonly runDir?: string;
  /** PostgreSQL's compiled-in socket folder (pg_autoctl starts it without -k). @default /var/run/postgresql */
  readonly socketDir?: string;
  /** The database superuser: the operating-system user this process runs as (peer login on the socket). */
  readonly superuser?: string;
  readonly log: Logger;
  readonly registry?: Registry;
  readonly runAs?: { readonly uid: number; readonly gid: number };
  readonly backup?: { readonly dir: string; readonly policy: BackupPolicy; readonly offsite?: Offsite };
  /** How often the member checks whether it became primary. @default 2000 */
  readonly watchMs?: number;
}

export interface HaApp {
  readonly node: HaNode;
  readonly backups?: Backups;
  readonly registry: Registry;
  readonly routes: Route[];
  readiness(): Promise<{ ready: boolean; details: Record<string, unknown> & LocalRole }>;
  close(): Promise<void>;
}

/**
 * pg_hba rules for the application's clients on a data node (after pg_auto_failover's own):
 * TLS only, never the superuser over the network, SCRAM for everyone else — the single
 * server's rules (../postgres.ts hbaLines) for the superuser this group runs as.
 */
export function haClientRules(superuser: string): string[] {
  return [
    "hostnossl all all all reject",
    `hostssl all ${superuser} all reject`,
    "hostssl all all 0.0.0.0/0 scram-sha-256",
    "hostssl all all ::/0 scram-sha-256",
  ];
}

function readSecret(file: string, what: string): string {
  const value = readFileSync(file, "utf8").trim();
  if (value.length < 16) throw new Error(`the ${what} in ${file} is shorter than 16 characters`);
  return value;
}

export async function startHaApp(o: HaAppOptions): Promise<HaApp> {
  const runDir = o.runDir ?? "/tmp/serverpark-db";
  const socketDir = o.socketDir ?? "/var/run/postgresql";
  const superuser = o.superuser ?? userInfo().username;
  const data = o.view.part === "postgres";
  const tls = o.tls ? { certFile: o.tls.certFile, keyFile: privateKeyCopy(o.tls.keyFile, runDir, o.runAs), caFile: o.tls.caFile } : undefined;
  if (!tls) o.log.warn({}, "no service certificate: the group's members use self-signed certificates (encryption without authentication)");
  // Read before anything starts: a bad file stops start-up without leaving a server behind.
  const probeLogin = data ? readProbeLogin(o.probeLoginFile) : undefined;
  const appPassword = data ? readAppPassword(o.passwordFile) : "";
  const node = new HaNode({
    kind: o.view.part,
    name: o.view.name,
    binDir: o.binDir,
    autoctl: o.autoctl,
    dataDir: o.dataDir,
    runDir,
    socketDir,
    hostname: o.view.hostname,
    listen: o.listen === "0.0.0.0" ? "*" : o.listen,
    port: o.port,
    monitor: data ? o.view.monitor : undefined,
    peers: o.view.nodes.map((n) => n.host),
    // The monitor receives the monitor login's password only (least privilege): it never streams or reads data.
    passwords: {
      monitor: readSecret(o.monitorPasswordFile, "monitor password"),
      replication: data ? readSecret(o.replicationPasswordFile, "replication password") : "",
    },
    tls,
    superuser,
    maxConnections: o.settings.maxConnections,
    sharedBuffersMb: o.settings.sharedBuffersMb,
    clientRules: haClientRules(superuser),
    log: o.log,
    runAs: o.runAs,
  });
  await node.start();

  let backups: Backups | undefined;
  let watcher: NodeJS.Timeout | undefined;
  if (data) {
    const tools: DbTools = {
      options: { binDir: o.binDir, runAs: o.runAs },
      toolOptions: () => ({
        ...(o.runAs ? { uid: o.runAs.uid, gid: o.runAs.gid } : {}),
        env: { ...process.env, PGHOST: socketDir, PGPORT: String(o.port), PGUSER: superuser, TZ: "UTC" },
      }),
    };
    backups = new Backups(tools, o.backup?.dir ?? join(o.dataDir, "backups"), o.settings, o.log, o.backup?.policy);
    backups.offsite = o.backup?.offsite;
    backups.start();
    // Provisioning follows the primary: once each time this node is seen as primary.
    let provisioned = false;
    let busy = false;
    const watch = async () => {
      if (busy) return;
      busy = true;
      try {
        const { role } = await node.localRole();
        if (role !== "primary") provisioned = false;
        else if (!provisioned) {
          await provisionLogged({ host: socketDir, port: o.port, user: superuser }, o.settings, appPassword, probeLogin, o.log);
          // A new standby's first copy (pg_basebackup) waits for a checkpoint: make the next one short.
          await node.query("CHECKPOINT");
          provisioned = true;
          o.log.info({ name: o.view.name, databases: o.settings.databases, user: o.settings.user }, "primary: application role and databases provisioned");
        }
      } catch (error) {
        o.log.warn({ err: error }, "provisioning on the primary failed; trying again");
      } finally {
        busy = false;
      }
    };
    watcher = setInterval(() => void watch(), o.watchMs ?? 2000);
    void watch();
  }
  o.log.info({ part: o.view.part, name: o.view.name, hostname: o.view.hostname, monitor: o.view.monitor }, "HA member started");

  return {
    node,
    backups,
    registry: dbGauges(o.registry ?? new Registry(), () => node.running, backups),
    routes: [...haRoutes(node, data ? clientUri(o.view, o.settings) : undefined), ...(backups ? backupRoutes(backups) : [])],
    readiness: async () => {
      const { ready, details } = await node.readiness();
      return { ready, details: { ...details } };
    },
    async close() {
      if (watcher) clearInterval(watcher);
      backups?.stop();
      await node.stop();
    },
  };
}

/**
 * The connection string clients use (without the password): every data node, and libpq keeps
 * the one that accepts writes (images/db/README.md "How clients follow the primary").
 */
export function clientUri(view: DbHaView, settings: DbSettings): string {
  const hosts = view.nodes.map((n) => `${n.host.includes(":") ? `[${n.host}]` : n.host}:${n.port}`).join(",");
  return `postgresql://${settings.user}@${hosts}/${settings.databases[0]}?target_session_attrs=read-write&sslmode=verify-full&connect_timeout=2`;
}
