/** Helpers for the HA tests: a monitor and two data nodes on loopback addresses, run by our supervisor. */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HaNode } from "../../images/db/src/ha/node";
import { createLogger } from "../../images/runtime/log";
import { PG_BIN, run } from "./support";

export const AUTOCTL = process.env.SP_TEST_PG_AUTOCTL ?? "/usr/bin/pg_autoctl";
/** PostgreSQL's compiled-in socket folder (pg_autoctl starts it without -k). */
export const SOCKET_DIR = "/var/run/postgresql";
export const APP_PASSWORD = "ha-app-password-1";

/** True when PostgreSQL, pg_auto_failover and psql are installed; otherwise prints why (fails in CI). */
export function haveAutoFailover(): boolean {
  const missing = [join(PG_BIN, "postgres"), join(PG_BIN, "pg_ctl"), join(PG_BIN, "pg_rewind"), AUTOCTL, SOCKET_DIR].filter((f) => !existsSync(f));
  try {
    execFileSync("sh", ["-c", "command -v psql"], { stdio: "ignore" });
  } catch {
    missing.push("psql");
  }
  if (process.getuid?.() === 0) {
    try {
      execFileSync("id", ["-u", "postgres"], { stdio: "ignore" });
    } catch {
      missing.push("the postgres user");
    }
  }
  if (missing.length === 0) return true;
  const hint = "bash scripts/setup-build-deps.sh (postgresql-15, postgresql-15-auto-failover, pg-auto-failover-cli)";
  if (process.env.CI === "true") throw new Error(`missing in CI: ${missing.join(", ")} (${hint})`);
  console.warn(`skipping HA db tests: missing ${missing.join(", ")} (${hint})`);
  return false;
}

function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return {
    uid: Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"]).toString().trim()),
  };
}

export interface Member {
  readonly host: string;
  readonly port: number;
  node: HaNode;
}

export interface TestGroup {
  readonly dir: string;
  readonly monitor: Member;
  readonly nodes: readonly Member[];
  /** libpq multi-host URI that follows the primary. */
  readonly uri: string;
  /** A fresh supervisor for the same member (same volume), as a restarted container would run. */
  renew(member: Member): HaNode;
}

/** Monitor on 127.0.0.<base>, data nodes on the next addresses; ports from `port`. */
export function testGroup(port: number, base = 20): TestGroup {
  const dir = mkdtempSync(join(tmpdir(), "sp-db-ha-"));
  chmodSync(dir, 0o755);
  const passwords = { monitor: randomBytes(18).toString("base64url"), replication: randomBytes(18).toString("base64url") };
  const monitorHost = `127.0.0.${base}`;
  const nodeHosts = [`127.0.0.${base + 1}`, `127.0.0.${base + 2}`];
  const user = process.getuid?.() === 0 ? "postgres" : execFileSync("id", ["-un"]).toString().trim();
  const localUsers = process.getuid?.() === 0 ? ["postgres", "root"] : [user];
  const log = createLogger({ role: "db", level: (process.env.SP_TEST_LOG_LEVEL as "info") ?? "silent" });
  const make = (kind: "monitor" | "postgres", name: string, host: string, p: number) => {
    // The member's folder must be reachable by the postgres user (its data and run folders are made private below it).
    mkdirSync(join(dir, name), { recursive: true, mode: 0o755 });
    return new HaNode({
      kind,
      name,
      binDir: PG_BIN,
      autoctl: AUTOCTL,
      dataDir: join(dir, name, "data"),
      runDir: join(dir, name, "run"),
      socketDir: SOCKET_DIR,
      hostname: host,
      listen: host,
      port: p,
      monitor: kind === "postgres" ? { host: monitorHost, port } : undefined,
      // Linux picks 127.0.0.1 as the source of every loopback connection: it is the peers' address here.
      peers: [...nodeHosts, "127.0.0.1"],
      passwords,
      superuser: user,
      localUsers,
      clientRules: ["hostssl all app 127.0.0.0/8 scram-sha-256"],
      log: log.child({ node: name }),
      runAs: runAs(),
    });
  };
  const monitor: Member = { host: monitorHost, port, node: make("monitor", "monitor", monitorHost, port) };
  const nodes: Member[] = nodeHosts.map((host, i) => ({ host, port: port + 1 + i, node: make("postgres", `node${i + 1}`, host, port + 1 + i) }));
  const hosts = nodes.map((n) => `${n.host}:${n.port}`).join(",");
  return {
    dir,
    monitor,
    nodes,
    uri: `postgresql://app:${APP_PASSWORD}@${hosts}/app?target_session_attrs=read-write&sslmode=require&connect_timeout=2`,
    renew(member) {
      const index = nodes.indexOf(member);
      member.node = member === monitor ? make("monitor", "monitor", monitorHost, port) : make("postgres", `node${index + 1}`, member.host, member.port);
      return member.node;
    },
  };
}

/** psql with a connection URI (libpq: multi-host, target_session_attrs); resolves with stdout. */
export async function psqlUri(uri: string, sql: string, timeoutMs = 30_000): Promise<string> {
  const { stdout } = await run("psql", ["-w", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql, uri], {
    timeout: timeoutMs,
    env: { ...process.env, PGCONNECT_TIMEOUT: "3" },
  });
  return stdout.trim();
}

/** The URI of one member only (any session: a standby answers reads). */
export function memberUri(member: Member, attrs = "any"): string {
  return `postgresql://app:${APP_PASSWORD}@${member.host}:${member.port}/app?target_session_attrs=${attrs}&sslmode=require&connect_timeout=2`;
}

export { waitFor } from "../support/haLab";
