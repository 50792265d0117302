/**
 * Runs real PostgreSQL under our control: creates the cluster on first start (initdb with
 * SCRAM authentication only), writes its configuration from the settings, starts the
 * `postgres` process, relays its log lines as JSON, and stops it with a fast shutdown
 * (SIGINT: roll back open transactions, checkpoint, exit) so nothing committed is lost.
 * Why real PostgreSQL and not pglite: see ../README.md.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "../../runtime/log";
import type { DbSettings } from "../../../contracts/settings/db";
import { removeStaleSocketLocks } from "./ha/processes";

const run = promisify(execFile);

export interface PostgresOptions {
  /** Folder with postgres, initdb, pg_dump, pg_restore. */
  readonly binDir: string;
  /** The data volume; the cluster lives in <dataDir>/pgdata. */
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** Folder for the unix socket (not on the volume). */
  readonly socketDir: string;
  readonly settings: DbSettings;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly log: Logger;
  /** When this process is root (tests), PostgreSQL runs as this user: it refuses root. */
  readonly runAs?: { readonly uid: number; readonly gid: number };
}

export class Postgres {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  /** Set when postgres stops without being asked to. */
  onUnexpectedExit: (code: number | null) => void = () => undefined;
  private stopping = false;

  constructor(readonly options: PostgresOptions) {}

  get pgdata(): string {
    return join(this.options.dataDir, "pgdata");
  }

  /** The superuser password, made at initdb and kept on the volume (0600). */
  superuserPassword(): string {
    return readFileSync(join(this.options.dataDir, "superuser.password"), "utf8").trim();
  }

  private spawnOptions() {
    return this.options.runAs ? { uid: this.options.runAs.uid, gid: this.options.runAs.gid } : {};
  }

  private own(path: string): void {
    if (this.options.runAs) chownSync(path, this.options.runAs.uid, this.options.runAs.gid);
  }

  /** initdb on an empty volume; idempotent. */
  async ensureCluster(): Promise<void> {
    const { dataDir, binDir, log } = this.options;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.own(dataDir);
    if (existsSync(join(this.pgdata, "PG_VERSION"))) return;
    const pwFile = join(dataDir, "superuser.password");
    writeFileSync(pwFile, randomBytes(24).toString("base64url"), { mode: 0o600 });
    this.own(pwFile);
    log.info({ pgdata: this.pgdata }, "creating the database cluster (initdb)");
    await run(
      join(binDir, "initdb"),
      ["-D", this.pgdata, "-U", "postgres", "--pwfile", pwFile, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--data-checksums"],
      {
        ...this.spawnOptions(),
        env: { ...process.env, TZ: "UTC" },
        timeout: 120_000,
      },
    );
  }

  /** postgresql.conf additions and pg_hba.conf, rewritten on every start from the settings. */
  private writeConfig(): void {
    const { settings, host, port, socketDir, tls } = this.options;
    const lines = [
      `listen_addresses = '${host === "0.0.0.0" ? "*" : host}'`,
      `port = ${port}`,
      `unix_socket_directories = '${socketDir}'`,
      `max_connections = ${settings.maxConnections}`,
      `shared_buffers = ${settings.sharedBuffersMb}MB`,
      "password_encryption = 'scram-sha-256'",
      // Durability is the point: never trade it for speed.
      "fsync = on",
      "synchronous_commit = on",
      "full_page_writes = on",
      "logging_collector = off",
      "log_destination = 'stderr'",
      "log_line_prefix = ''",
      "timezone = 'UTC'",
      "log_timezone = 'UTC'",
      "dynamic_shared_memory_type = posix",
    ];
    if (tls) lines.push("ssl = on", `ssl_cert_file = '${tls.certFile}'`, `ssl_key_file = '${tls.keyFile}'`, "ssl_min_protocol_version = 'TLSv1.2'");
    writeFileSync(join(this.pgdata, "postgresql.auto.conf"), `# written by the serverpark db role at every start\n${lines.join("\n")}\n`);
    writeFileSync(join(this.pgdata, "pg_hba.conf"), `${hbaLines().join("\n")}\n`);
    this.own(join(this.pgdata, "postgresql.auto.conf"));
    this.own(join(this.pgdata, "pg_hba.conf"));
  }

  async start(): Promise<void> {
    await this.ensureCluster();
    this.writeConfig();
    mkdirSync(this.options.socketDir, { recursive: true });
    this.own(this.options.socketDir);
    removeStaleSocketLocks(this.options.socketDir, this.options.log);
    const { log } = this.options;
    const child = spawn(join(this.options.binDir, "postgres"), ["-D", this.pgdata], {
      ...this.spawnOptions(),
      env: { ...process.env, TZ: "UTC" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.stopping = false;
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    const relay = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) log.info({ source: "postgres" }, line.slice(0, 2000));
    };
    child.stdout!.on("data", relay);
    child.stderr!.on("data", relay);
    void this.exited.then((code) => {
      if (!this.stopping) this.onUnexpectedExit(code);
    });
    await this.waitReady();
  }

  /** Resolves once the server accepts connections (pg_isready-like check with the pg client). */
  private async waitReady(): Promise<void> {
    const { Client } = await import("pg");
    for (let i = 0; i < 300; i++) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined)
        throw new Error(`postgres exited with code ${this.child.exitCode} during start-up`);
      const client = new Client({
        host: this.options.socketDir,
        port: this.options.port,
        user: "postgres",
        password: this.superuserPassword(),
        database: "postgres",
      });
      try {
        await client.connect();
        await client.end();
        return;
      } catch {
        await client.end().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error("postgres did not accept connections within 30 s");
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null;
  }

  /** Fast shutdown (SIGINT), then SIGKILL if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 8_000): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.child!.kill("SIGINT");
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Forwards a SIGKILL (tests: a crash of the database process). */
  kill(): Promise<number | null> {
    this.stopping = true;
    this.child?.kill("SIGKILL");
    return this.exited;
  }

  /** The superuser's login on the unix socket (provisioning). */
  superuserLogin(): { host: string; port: number; user: string; password: string } {
    return { host: this.options.socketDir, port: this.options.port, user: "postgres", password: this.superuserPassword() };
  }

  /** Environment and options for running the cluster's tools (pg_dump, pg_restore) as superuser. */
  toolOptions() {
    return {
      ...this.spawnOptions(),
      env: {
        ...process.env,
        PGHOST: this.options.socketDir,
        PGPORT: String(this.options.port),
        PGUSER: "postgres",
        PGPASSWORD: this.superuserPassword(),
        TZ: "UTC",
      },
    };
  }
}

/**
 * pg_hba.conf: the first matching line decides. Over the network only TLS with a password
 * (SCRAM), and never the superuser: `postgres` logs in on the unix socket inside the
 * container only (provisioning, dumps, restores). Without a certificate no network login
 * matches at all (fail closed). Which networks reach the port is the plan's exposure
 * matrix, not decided here.
 */
export function hbaLines(): string[] {
  return [
    "local all all scram-sha-256",
    "hostnossl all all all reject",
    "hostssl all postgres all reject",
    "hostssl all all 0.0.0.0/0 scram-sha-256",
    "hostssl all all ::/0 scram-sha-256",
  ];
}

/** Copies the TLS key to a private file: PostgreSQL refuses keys readable by others. */
export function privateKeyCopy(keyFile: string, dir: string, runAs?: { uid: number; gid: number }): string {
  mkdirSync(dir, { recursive: true });
  const target = join(dir, "server.key");
  writeFileSync(target, readFileSync(keyFile), { mode: 0o600 });
  chmodSync(target, 0o600);
  if (runAs) chownSync(target, runAs.uid, runAs.gid);
  return target;
}
