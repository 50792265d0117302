/**
 * One member of a highly available PostgreSQL group, run by pg_auto_failover's `pg_autoctl`
 * (Debian's pg-auto-failover-cli + postgresql-15-auto-failover) under our supervision:
 *   kind "monitor"  — the PostgreSQL with the pgautofailover extension that decides failovers;
 *   kind "postgres" — a data node (keeper + PostgreSQL): the first to register becomes the
 *                     primary, the next ones hot standbys by streaming replication.
 * First start: `pg_autoctl create …` (initdb or pg_basebackup from the primary, registration).
 * Every start: our pg_hba/pg_ident/settings files, the keeper's timeouts, then `pg_autoctl run` in a process
 * group of its own; it starts, stops, promotes, demotes and rejoins (pg_rewind) as the monitor assigns. ../../README.md.
 */
import { execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import type { Logger } from "../../../runtime/log";
import { scramSha256Verifier } from "../../../../contracts/credentials/scram";
import {
  checkTimings,
  DEFAULT_TIMINGS,
  hbaConf,
  identConf,
  MONITOR_DATABASE,
  MONITOR_USER,
  monitorUri,
  pgpass,
  REPLICATION_USER,
  SETTINGS_FILE,
  settingsConf,
  withInclude,
  type HaTimings,
} from "./config";
import { Autoctl } from "./autoctl";
import { descendants, removeStaleSocketLocks, signal } from "./processes";
import { judgeRegistration, readRegistrations, type RegistrationVerdict } from "./rejoin";

const run = promisify(execFile);

export interface HaNodeOptions {
  readonly kind: "monitor" | "postgres";
  /** Name on the monitor (data nodes), e.g. the replica's name. */
  readonly name: string;
  /** PostgreSQL's programs (pg_ctl, initdb, pg_basebackup, pg_rewind, postgres). */
  readonly binDir: string;
  /** @default /usr/bin/pg_autoctl */
  readonly autoctl?: string;
  /** The volume: <dataDir>/pgdata and pg_autoctl's configuration and state. */
  readonly dataDir: string;
  /** Private scratch folder (pg_autoctl's runtime files, the password file); not on the volume. */
  readonly runDir: string;
  /**
   * PostgreSQL's unix socket folder. pg_autoctl starts PostgreSQL without -k, so during
   * `create` the socket is in the compiled-in default: this must be that folder
   * (Debian: /var/run/postgresql).
   */
  readonly socketDir: string;
  /** The address the other members reach this one by (registered on the monitor). */
  readonly hostname: string;
  /** PostgreSQL's listen_addresses. */
  readonly listen: string;
  readonly port: number;
  /** The monitor (data nodes only). */
  readonly monitor?: { readonly host: string; readonly port: number };
  /** Addresses or CIDRs of the data nodes (the monitor's and each node's pg_hba). */
  readonly peers: readonly string[];
  /** Passwords of the two pg_auto_failover logins (Pulumi secrets); the monitor has no replication password (""). */
  readonly passwords: { readonly monitor: string; readonly replication: string };
  /** The datacenter certificate (with its CA: sslmode verify-full); absent: self-signed (sslmode require). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
  /** The database superuser: the operating-system user pg_autoctl runs as (initdb names it so). */
  readonly superuser: string;
  /** Operating-system users that may connect locally as the superuser. @default [superuser] */
  readonly localUsers?: readonly string[];
  readonly maxConnections?: number;
  readonly sharedBuffersMb?: number;
  readonly timings?: HaTimings;
  /** The application's pg_hba rules (data nodes). */
  readonly clientRules?: readonly string[];
  readonly log: Logger;
  /** When this process is root (tests), pg_autoctl and PostgreSQL run as this user. */
  readonly runAs?: { readonly uid: number; readonly gid: number };
}

/** What this member is right now, from its own PostgreSQL. */
export interface LocalRole {
  readonly role: "primary" | "standby" | "monitor" | "down";
  /** Standby: the WAL receiver's status ("streaming" when replicating). */
  readonly receiver?: string;
  readonly error?: string;
}

export class HaNode {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private stopping = false;
  /** Set when pg_autoctl stops without being asked to. */
  onUnexpectedExit: (code: number | null) => void = () => undefined;
  readonly timings: HaTimings;
  private readonly autoctl: Autoctl;

  constructor(readonly options: HaNodeOptions) {
    this.timings = options.timings ?? DEFAULT_TIMINGS;
    checkTimings(this.timings);
    if (options.kind === "postgres" && !options.monitor) throw new Error("a data node needs the monitor's address");
    if (options.kind === "postgres" && !options.passwords.replication) throw new Error("a data node needs the replication password");
    const { binDir, dataDir, runDir, name, log, runAs } = options;
    this.autoctl = new Autoctl({ path: this.autoctlPath, binDir, dataDir, runDir, name, log, runAs });
  }

  get pgdata(): string {
    return join(this.options.dataDir, "pgdata");
  }

  private get autoctlPath(): string {
    return this.options.autoctl ?? "/usr/bin/pg_autoctl";
  }

  private get sslMode(): string {
    return this.options.tls ? "verify-full" : "require";
  }

  private own(path: string): void {
    if (this.options.runAs) chownSync(path, this.options.runAs.uid, this.options.runAs.gid);
  }

  private write(path: string, text: string, mode = 0o600): void {
    writeFileSync(path, text, { mode });
    this.own(path);
  }

  private prepareFolders(): void {
    const { dataDir, runDir, socketDir } = this.options;
    for (const dir of [dataDir, join(dataDir, "autoctl"), runDir, join(runDir, "autoctl")]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.own(dir);
    }
    this.write(join(runDir, "pgpass"), pgpass(this.options.passwords));
    removeStaleSocketLocks(socketDir, this.options.log);
  }

  /** pg_autoctl's configuration file exists once `create` has finished its first part. */
  private get created(): boolean {
    const cfg = join(this.options.dataDir, "autoctl", "config", "pg_autoctl", this.pgdata, "pg_autoctl.cfg");
    return existsSync(cfg) && existsSync(join(this.pgdata, "PG_VERSION"));
  }

  private createArgs(): string[] {
    const o = this.options;
    const common = ["--pgdata", this.pgdata, "--pgctl", join(o.binDir, "pg_ctl"), "--pgport", String(o.port), "--hostname", o.hostname, "--skip-pg-hba"];
    const tls = o.tls
      ? ["--ssl-ca-file", o.tls.caFile, "--server-cert", o.tls.certFile, "--server-key", o.tls.keyFile, "--ssl-mode", "verify-full"]
      : ["--ssl-self-signed", "--ssl-mode", "require"];
    if (o.kind === "monitor") return ["create", "monitor", ...common, ...tls];
    const node = { "--pghost": o.socketDir, "--listen": o.listen, "--name": o.name, "--username": o.superuser, "--dbname": "postgres" };
    const monitor = monitorUri(o.monitor!.host, o.monitor!.port, this.sslMode, o.tls?.caFile);
    return ["create", "postgres", ...common, ...tls, ...Object.entries(node).flat(), "--monitor", monitor];
  }

  /**
   * `pg_autoctl create` is resumable: a standby whose pg_basebackup failed (the primary not
   * ready yet) tries again. Its initdb allows local trust while it runs; our files replace
   * that before `pg_autoctl run`.
   */
  private async create(): Promise<void> {
    if (this.options.kind === "postgres" && !this.registeredFromThisVolume) await this.clearStaleRegistration();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.autoctl.once(this.createArgs(), 300_000);
        return;
      } catch (error) {
        if (attempt >= 10) throw error;
        this.options.log.warn({ attempt, error: (error as Error).message }, "pg_autoctl create failed; trying again");
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
  }

  /** pg_autoctl writes its state once registered: without it this volume never joined (a first start, or a rebuilt node). */
  private get registeredFromThisVolume(): boolean {
    return existsSync(join(this.options.dataDir, "autoctl", "share", "pg_autoctl", this.pgdata, "pg_autoctl.state"));
  }

  /**
   * A node rebuilt with empty volumes: drops its previous registration from the monitor once
   * it is provably dead, so that `create` can register it again; waits while it may be alive
   * (./rejoin.ts has the rules). A monitor that cannot be read leaves it to `create`.
   */
  private async clearStaleRegistration(): Promise<void> {
    const o = this.options;
    const monitor = { host: o.monitor!.host, port: o.monitor!.port, password: o.passwords.monitor, caFile: o.tls?.caFile };
    let loggedAt = 0;
    for (;;) {
      let verdict: RegistrationVerdict;
      try {
        verdict = judgeRegistration(await readRegistrations(monitor), { name: o.name, host: o.hostname, port: o.port });
      } catch (error) {
        o.log.warn({ error: (error as Error).message }, "could not read the monitor's registrations; creating the node anyway");
        return;
      }
      if (verdict.action === "none") return;
      if (verdict.action === "remove") {
        o.log.warn(
          { nodeId: verdict.registration.nodeId, reason: verdict.reason },
          "removing this node's stale registration from the monitor (its volume was lost)",
        );
        const uri = monitorUri(o.monitor!.host, o.monitor!.port, this.sslMode, o.tls?.caFile);
        await this.autoctl.once(
          ["drop", "node", "--monitor", uri, "--formation", "default", "--name", verdict.registration.name, "--force", "--wait", "30"],
          60_000,
        );
        return;
      }
      if (Date.now() - loggedAt > 15_000) {
        o.log.warn({ reason: verdict.reason }, "an earlier registration of this node is on the monitor; waiting before replacing it");
        loggedAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
  }

  private writeFiles(): void {
    const o = this.options;
    const roles = o.kind === "monitor" ? [o.superuser, MONITOR_USER] : [o.superuser];
    this.write(join(this.pgdata, "pg_hba.conf"), hbaConf({ kind: o.kind, peers: o.peers, clientRules: o.kind === "postgres" ? o.clientRules : [] }));
    this.write(join(this.pgdata, "pg_ident.conf"), identConf(o.localUsers ?? [o.superuser], roles));
    this.write(
      join(this.pgdata, SETTINGS_FILE),
      settingsConf({
        socketDir: o.socketDir,
        maxConnections: o.maxConnections ?? 100,
        sharedBuffersMb: o.sharedBuffersMb ?? 128,
        monitorTimings: o.kind === "monitor" ? this.timings : undefined,
      }),
    );
    const conf = join(this.pgdata, "postgresql.conf");
    this.write(conf, withInclude(readFileSync(conf, "utf8")));
  }

  async start(): Promise<void> {
    this.prepareFolders();
    if (!this.created) {
      this.options.log.info({ kind: this.options.kind, name: this.options.name }, "creating the HA node (pg_autoctl create)");
      await this.create();
    }
    this.writeFiles();
    const set = (key: string, value: string) => this.autoctl.once(["config", "set", "--pgdata", this.pgdata, key, value], 30_000);
    // The monitor has no --listen at create time: it listens on '*' until this.
    await set("postgresql.listen_addresses", this.options.listen);
    if (this.options.kind === "postgres") await set("timeout.network_partition_timeout", String(this.timings.networkPartitionSeconds));
    const { child } = this.autoctl.spawn(["run", "--pgdata", this.pgdata]);
    this.child = child;
    this.stopping = false;
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    void this.exited.then((code) => {
      if (!this.stopping) this.onUnexpectedExit(code);
    });
    if (this.options.kind === "monitor") {
      await this.waitLocal();
      await this.setPasswords();
    } else {
      // A data node may be anywhere in pg_auto_failover's state machine (rewinding, catching
      // up, stopped for a demotion): readiness() tells when it serves; the password waits for it.
      this.passwordsSet = this.setPasswordsWhenUp();
    }
  }

  /** Resolves once the replication password is in place (set here as primary, or replicated to this standby). */
  passwordsSet: Promise<void> = Promise.resolve();
  private async setPasswordsWhenUp(): Promise<void> {
    while (this.running) {
      try {
        await this.setPasswords();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** A query as the superuser through the local socket (pg_ident's map). */
  async query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, database = "postgres"): Promise<T[]> {
    const client = new pg.Client({
      host: this.options.socketDir,
      port: this.options.port,
      user: this.options.superuser,
      database,
      connectionTimeoutMillis: 3000,
      query_timeout: 10_000,
    });
    try {
      await client.connect();
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async waitLocal(): Promise<void> {
    let last = "";
    for (let i = 0; i < 600; i++) {
      if (!this.running) throw new Error(`pg_autoctl exited during start-up (${this.child?.exitCode})`);
      try {
        await this.query("SELECT 1");
        return;
      } catch (error) {
        last = (error as Error).message;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`PostgreSQL did not accept local connections within 120 s: ${last}`);
  }

  /**
   * The logins' passwords, as SCRAM verifiers (the password itself never reaches the server's
   * statements or logs). The monitor's login on the monitor; the replication login on a primary
   * (standbys get it by replication).
   */
  async setPasswords(): Promise<void> {
    const verifier = (password: string) => scramSha256Verifier(password, randomBytes(16));
    if (this.options.kind === "monitor") {
      await this.query(`ALTER ROLE ${MONITOR_USER} PASSWORD '${verifier(this.options.passwords.monitor)}'`, MONITOR_DATABASE);
      return;
    }
    const [row] = await this.query<{ standby: boolean }>("SELECT pg_is_in_recovery() AS standby");
    if (!row!.standby) await this.query(`ALTER ROLE ${REPLICATION_USER} PASSWORD '${verifier(this.options.passwords.replication)}'`);
  }

  /** Primary, streaming standby, monitor — or down, from this member's own PostgreSQL. */
  async localRole(): Promise<LocalRole> {
    try {
      if (this.options.kind === "monitor") {
        await this.query("SELECT 1", MONITOR_DATABASE);
        return { role: "monitor" };
      }
      const [row] = await this.query<{ standby: boolean; receiver: string | null }>(
        "SELECT pg_is_in_recovery() AS standby, (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver",
      );
      return row!.standby ? { role: "standby", receiver: row!.receiver ?? "none" } : { role: "primary" };
    } catch (error) {
      return { role: "down", error: (error as Error).message.slice(0, 300) };
    }
  }

  /** Ready: the monitor answers, or this node is the primary or a standby that streams. */
  async readiness(): Promise<{ ready: boolean; details: LocalRole }> {
    const local = await this.localRole();
    const ready = local.role === "primary" || local.role === "monitor" || (local.role === "standby" && local.receiver === "streaming");
    return { ready, details: local };
  }

  /** The group as the monitor sees it (`pg_autoctl show state --json`): node, state, LSN, health. */
  async clusterState(): Promise<unknown> {
    const { stdout } = await run(this.autoctlPath, ["show", "state", "--pgdata", this.pgdata, "--json"], { ...this.autoctl.spawnOptions(), timeout: 10_000 });
    return JSON.parse(stdout);
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** pg_autoctl stops PostgreSQL (fast shutdown) on SIGTERM; SIGKILL to the group after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.child!.kill("SIGTERM");
    const timer = setTimeout(() => this.killAll(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL to pg_autoctl, PostgreSQL and every process below them at once: a container that dies (tests). */
  async kill(): Promise<void> {
    this.stopping = true;
    this.killAll();
    await this.exited;
  }

  private killAll(): void {
    const root = this.child?.pid;
    if (!root) return;
    const pids = new Set([root, ...descendants(root), ...this.postmasterPids()]);
    signal(-root, "SIGKILL");
    for (const pid of pids) signal(pid, "SIGKILL");
  }

  private postmasterPids(): number[] {
    try {
      const pid = Number(readFileSync(join(this.pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
      return Number.isInteger(pid) && pid > 1 ? [pid, ...descendants(pid)] : [];
    } catch {
      return [];
    }
  }
}
