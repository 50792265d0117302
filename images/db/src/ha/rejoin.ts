/**
 * A data node rebuilt with empty volumes (its disk lost, its container and volumes recreated)
 * must join its group again under the same name and address. The monitor still holds the old
 * registration, and `pg_autoctl create` fails on it (node names and host:port are unique per
 * formation). pg_auto_failover leaves removing a dead node to the operator
 * (`pg_autoctl drop node --force`); we do it at start-up, but only for a registration that
 * is provably not a live node:
 *   - its keeper has not reported to the monitor for STALE_REGISTRATION_SECONDS (a live keeper
 *     reports every second), and the monitor's own health check does not reach it;
 *   - another node of the group takes writes now (the monitor has failed over), or it is
 *     the group's only node — never the registration the group's writes depend on.
 * Otherwise the node waits and checks again: a second container started under a live node's
 * name never drops that node.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { MONITOR_DATABASE, MONITOR_USER } from "./config";

/** A live keeper reports every second; 20 s of silence is far beyond the monitor's unhealthy timeout (DEFAULT_TIMINGS). */
export const STALE_REGISTRATION_SECONDS = 20;

/** pg_auto_failover's states in which a node takes writes (the monitor's CanTakeWritesInState). */
const WRITABLE = new Set(["single", "primary", "wait_primary", "join_primary", "apply_settings"]);

/** One node as the monitor records it (pgautofailover.node). */
export interface Registration {
  readonly nodeId: number;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly goalState: string;
  /** 1: the monitor's health check reaches its PostgreSQL; 0: it does not; -1: not checked yet. */
  readonly health: number;
  /** Seconds since its keeper last reported to the monitor. */
  readonly silentSeconds: number;
}

export type RegistrationVerdict =
  | { readonly action: "none" }
  | { readonly action: "remove"; readonly registration: Registration; readonly reason: string }
  | { readonly action: "wait"; readonly reason: string };

/** What to do about an existing registration of this node's name or address (pure: the rules above). */
export function judgeRegistration(
  nodes: readonly Registration[],
  self: { readonly name: string; readonly host: string; readonly port: number },
  staleSeconds = STALE_REGISTRATION_SECONDS,
): RegistrationVerdict {
  const mine = nodes.filter((n) => n.name === self.name || (n.host === self.host && n.port === self.port));
  if (mine.length === 0) return { action: "none" };
  if (mine.length > 1) return { action: "wait", reason: `the monitor holds ${mine.length} registrations of this name or address; an operator must look` };
  const old = mine[0]!;
  const others = nodes.filter((n) => n !== old);
  const who = `node ${old.nodeId} "${old.name}" (${old.host}:${old.port}, goal ${old.goalState})`;
  if (old.silentSeconds < staleSeconds)
    return { action: "wait", reason: `${who} reported to the monitor ${old.silentSeconds.toFixed(0)} s ago: it may be alive` };
  if (old.health === 1) return { action: "wait", reason: `the monitor's health check still reaches ${who}` };
  if (WRITABLE.has(old.goalState) && others.length > 0)
    return { action: "wait", reason: `${who} is still the group's primary on the monitor: waiting for the failover` };
  const writer = others.find((n) => WRITABLE.has(n.goalState));
  if (others.length > 0 && !writer)
    return { action: "wait", reason: `no other node takes writes yet (${others.map((n) => `${n.name}: ${n.goalState}`).join(", ")})` };
  const because = writer ? `node "${writer.name}" is ${writer.goalState}` : "it is the group's only node";
  return { action: "remove", registration: old, reason: `${who} silent for ${old.silentSeconds.toFixed(0)} s, unreachable, and ${because}` };
}

export interface MonitorAddress {
  readonly host: string;
  readonly port: number;
  /** The monitor login's password (autoctl_node). */
  readonly password: string;
  /** The datacenter CA (verify-full); absent: TLS without verification (sslmode require). */
  readonly caFile?: string;
}

/** The nodes of the default formation, from the monitor (autoctl_node may read pgautofailover's tables). */
export async function readRegistrations(monitor: MonitorAddress): Promise<Registration[]> {
  const client = new pg.Client({
    host: monitor.host,
    port: monitor.port,
    user: MONITOR_USER,
    password: monitor.password,
    database: MONITOR_DATABASE,
    ssl: monitor.caFile ? { ca: readFileSync(monitor.caFile, "utf8") } : { rejectUnauthorized: false },
    connectionTimeoutMillis: 5000,
    query_timeout: 10_000,
  });
  try {
    await client.connect();
    const { rows } = await client.query<{
      nodeid: string;
      nodename: string;
      nodehost: string;
      nodeport: number;
      goalstate: string;
      health: number;
      silent: number;
    }>(
      `SELECT nodeid, nodename, nodehost, nodeport, goalstate::text AS goalstate, health,
              extract(epoch FROM now() - reporttime)::float8 AS silent
         FROM pgautofailover.node WHERE formationid = 'default' ORDER BY nodeid`,
    );
    return rows.map((r) => ({
      nodeId: Number(r.nodeid),
      name: r.nodename,
      host: r.nodehost,
      port: r.nodeport,
      goalState: r.goalstate,
      health: r.health,
      silentSeconds: r.silent,
    }));
  } finally {
    await client.end().catch(() => undefined);
  }
}
