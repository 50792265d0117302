/**
 * The highly available db on the real Docker engine, for test/e2e/db-ha.e2e.test.ts and
 * bench/db/failover.ts: deploys test/lab/fixtures/Pulumi.hatest.yaml with `serverpark lab`
 * (the CLI, as a user runs it), reads what a client needs from the group itself (the data
 * nodes' addresses from a member's runtime config, the application password and the CA from
 * its secret files), runs real `psql` with the documented multi-host connection string, and
 * a writer that records every acknowledged commit. Everything here needs the shared lock
 * (`flock /tmp/serverpark-e2e.lock`): only one datacenter runs on the engine at a time.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = join(__dirname, "..", "..");
export const HA_FIXTURE = join(ROOT, "test", "lab", "fixtures", "Pulumi.hatest.yaml");
export const HA_STACK = "hatest";
/** The fixture's datacenter name: containers are `hat-<replica>`. */
const PREFIX = "hat";
const DATA_NODES = ["db-0", "db-1"];

export interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

/** `serverpark lab <args>` as a child process. */
export async function lab(...args: string[]): Promise<Cli> {
  return serverpark(["lab", ...args]);
}

/** `serverpark <args>` as a child process, as a user runs it. */
export async function serverpark(args: readonly string[]): Promise<Cli> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, "bin", "serverpark.js"), ...args], {
      cwd: ROOT,
      timeout: 600_000,
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? err.message };
  }
}

/** Why the Docker engine cannot be used, or undefined when it can. */
export async function dockerUnavailable(): Promise<string | undefined> {
  try {
    await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeout: 20_000 });
    return undefined;
  } catch (e) {
    return `no Docker engine (${(e as Error).message.split("\n")[0]})`;
  }
}

export interface Member {
  /** Replica id (db-0, db-1). */
  readonly name: string;
  readonly container: string;
  /** Its address on the group's network (the view's `hostname`). */
  readonly host: string;
  readonly port: number;
}

export interface HaGroup {
  readonly nodes: readonly Member[];
  readonly monitor: string;
  /** The documented connection string: every data node, target_session_attrs=read-write, verify-full. */
  readonly uri: string;
  /** One member only, any session (a standby answers reads). */
  memberUri(member: Member): string;
}

async function exec(container: string, ...cmd: string[]): Promise<string> {
  const { stdout } = await run("docker", ["exec", container, ...cmd], { timeout: 30_000 });
  return stdout;
}

/** What a client needs, read from the deployed group (db-0's runtime config and secret files). */
export async function haGroup(): Promise<HaGroup> {
  const first = `${PREFIX}-${DATA_NODES[0]}`;
  const config = JSON.parse(await exec(first, "cat", "/etc/serverpark/config.json")) as { ha: { nodes: { name: string; host: string; port: number }[] } };
  const password = (await exec(first, "cat", "/etc/serverpark/secrets/db-password")).trim();
  const caFile = join(mkdtempSync(join(tmpdir(), "sp-db-ha-")), "ca.crt");
  writeFileSync(caFile, await exec(first, "cat", "/etc/serverpark/tls/ca.crt"));
  const nodes = config.ha.nodes.map((n) => ({ name: n.name, container: `${PREFIX}-${n.name}`, host: n.host, port: n.port }));
  const base = (hosts: string, attrs: string) =>
    `postgresql://app:${encodeURIComponent(password)}@${hosts}/app?target_session_attrs=${attrs}&sslmode=verify-full&sslrootcert=${caFile}&connect_timeout=2`;
  return {
    nodes,
    monitor: `${PREFIX}-db-monitor`,
    uri: base(nodes.map((n) => `${n.host}:${n.port}`).join(","), "read-write"),
    memberUri: (m) => base(`${m.host}:${m.port}`, "any"),
  };
}

/** Real psql (libpq: multi-host, target_session_attrs); resolves with its output. */
export async function psql(uri: string, sql: string, timeoutMs = 30_000): Promise<string> {
  const { stdout } = await run("psql", ["-w", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql, uri], { timeout: timeoutMs });
  return stdout.trim();
}

/** The data node psql lands on with the documented string (the primary), by its address. */
export async function primaryOf(group: HaGroup): Promise<Member | undefined> {
  const address = await psql(group.uri, "SELECT host(inet_server_addr())", 15_000).catch(() => undefined);
  return group.nodes.find((n) => n.host === address);
}

/** `pg_autoctl show <what> --json` run inside the monitor's container, parsed. */
async function autoctlShow(group: HaGroup, ...what: string[]): Promise<unknown> {
  const env = [
    "HOME=/var/lib/serverpark/db/autoctl",
    "XDG_CONFIG_HOME=/var/lib/serverpark/db/autoctl/config",
    "XDG_DATA_HOME=/var/lib/serverpark/db/autoctl/share",
    "XDG_RUNTIME_DIR=/tmp/serverpark-db/autoctl",
  ];
  return JSON.parse(await exec(group.monitor, "env", ...env, "pg_autoctl", "show", ...what, "--pgdata", "/var/lib/serverpark/db/pgdata", "--json"));
}

/** One of the monitor's events (`pg_autoctl show events`): when (ms since the epoch), which node, its goal state. */
export interface MonitorEvent {
  readonly at: number;
  readonly node: string;
  readonly goal: string;
  readonly description: string;
}

/** The monitor's last `count` events, oldest first (where a failover's time goes). */
export async function monitorEvents(group: HaGroup, count = 30): Promise<MonitorEvent[]> {
  const rows = (await autoctlShow(group, "events", "--count", String(count))) as {
    eventtime: string;
    nodename: string;
    goalstate: string;
    description: string;
  }[];
  // PostgreSQL's timestamptz text, e.g. "2026-12-06 08:17:20.123456+00" (the monitor runs in UTC).
  const parse = (t: string) => Date.parse(t.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00"));
  return rows.map((r) => ({ at: parse(r.eventtime), node: r.nodename, goal: r.goalstate, description: r.description })).sort((a, b) => a.at - b.at);
}

/** The group as the monitor sees it (`pg_autoctl show state --json`, run inside a member): node name -> state. */
export async function monitorView(group: HaGroup): Promise<Record<string, string>> {
  const out = await autoctlShow(group, "state");
  const rows = out as { nodename: string; current_group_state: string; assigned_group_state: string }[];
  return Object.fromEntries(
    rows.map((r) => [
      r.nodename,
      r.current_group_state === r.assigned_group_state ? r.current_group_state : `${r.current_group_state}->${r.assigned_group_state}`,
    ]),
  );
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes (then throws with the last state). */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message ?? String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * One psql per commit, as an application that reconnects would: an id counts as acknowledged
 * only once psql exited 0. `startedAt` of each acknowledged write tells which began after a kill.
 */
export class Writer {
  readonly acknowledged: { id: number; startedAt: number; ackedAt: number }[] = [];
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly uri: string,
    private readonly table: string,
    private readonly firstId: number,
  ) {}

  start(): void {
    this.loop = (async () => {
      for (let id = this.firstId; !this.stopping; id++) {
        const startedAt = Date.now();
        try {
          await psql(this.uri, `INSERT INTO ${this.table} (id) VALUES (${id})`, 15_000);
          this.acknowledged.push({ id, startedAt, ackedAt: Date.now() });
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
  }

  /** The first write that started after `t` and was acknowledged, if any. */
  firstStartedAfter(t: number): { id: number; startedAt: number; ackedAt: number } | undefined {
    return this.acknowledged.find((a) => a.startedAt >= t);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  /** Acknowledged ids missing from `present`. */
  lost(present: ReadonlySet<number>): number[] {
    return this.acknowledged.map((a) => a.id).filter((id) => !present.has(id));
  }
}

/** Ids of `table` at or above `from`, read through `uri`. */
export async function idsIn(uri: string, table: string, from: number): Promise<Set<number>> {
  const out = await psql(uri, `SELECT id FROM ${table} WHERE id >= ${from}`, 60_000);
  return new Set(out.split("\n").filter(Boolean).map(Number));
}

/** SIGKILL to the container (`docker kill`): the container dies as with a crash. */
export async function dockerKill(container: string): Promise<void> {
  await run("docker", ["kill", container], { timeout: 30_000 });
}

export async function dockerStart(container: string): Promise<void> {
  await run("docker", ["start", container], { timeout: 60_000 });
}
