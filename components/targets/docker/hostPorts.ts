/**
 * Host ports of the Docker target: the local datacenter runs on one engine, so every port the
 * plan publishes (to the internet or to operators) needs its own port on the machine's
 * loopback address (`docker.publishAddress`, from `docker.basePort` up). That choice is a
 * Docker concern; the plan states only what is published (audience, port, protocol), the
 * Hetzner target publishes each port under its own number on the server's public address.
 *
 * Pure and deterministic: the same plan and locked ports always give the same host ports. The
 * stack's lock file keeps them (`ports`, `replica:port` → host port, see
 * components/plan/lock.ts) so that adding a service never moves an existing port; the CLI
 * (`serverpark plan`, `serverpark diff`) calls this module as well as the Docker target.
 */
import type { DatacenterPlan, PublishedPort } from "../../plan";
import type { SpecIssue } from "../../spec/issues";
import type { DatacenterSpec } from "../../spec/schema";

export interface HostPort extends PublishedPort {
  /** Loopback address the engine binds (`docker.publishAddress`). */
  readonly hostAddress: string;
  readonly hostPort: number;
}

export interface HostPorts {
  /** replica id → its published ports with their host address and port, in the plan's order. */
  readonly byReplica: ReadonlyMap<string, readonly HostPort[]>;
  /** What the lock file records: `replica:port` → host port. */
  readonly lock: Readonly<Record<string, number>>;
}

export type HostPortsResult = { ok: true; ports: HostPorts } | { ok: false; issues: SpecIssue[] };

const MAX_PORT = 65535;
const keyOf = (replica: string, port: number) => `${replica}:${port}`;

/**
 * One host port per published port number of each replica (a port published over TCP and UDP
 * shares one). A port marked `sameNumber` (FTP passive ports) is published under its own number. Locked ports are kept when still in range and free; the others take the lowest
 * free port from `basePort`, in the plan's replica order.
 */
export function allocateHostPorts(
  docker: Pick<DatacenterSpec["docker"], "publishAddress" | "basePort">,
  plan: Pick<DatacenterPlan, "replicas">,
  locked: Readonly<Record<string, number>> = {},
): HostPortsResult {
  const wanted: string[] = [];
  const used = new Set<number>();
  const hostPortOf = new Map<string, number>();
  for (const r of plan.replicas) {
    for (const port of new Set(r.published.map((p) => p.port))) {
      const key = keyOf(r.id, port);
      wanted.push(key);
      // A port that keeps its number (FTP passive ports: PASV names it) is taken first.
      if (!r.published.some((p) => p.port === port && p.sameNumber)) continue;
      if (used.has(port)) {
        return {
          ok: false,
          issues: [{ path: ["services"], message: `port ${port} must be published under its own number, but ${r.id} is the second replica that publishes it` }],
        };
      }
      used.add(port);
      hostPortOf.set(key, port);
    }
  }
  for (const key of wanted) {
    if (hostPortOf.has(key)) continue;
    const port = locked[key];
    if (port !== undefined && port >= docker.basePort && port <= MAX_PORT && !used.has(port)) {
      used.add(port);
      hostPortOf.set(key, port);
    }
  }
  let next = docker.basePort;
  for (const key of wanted) {
    if (hostPortOf.has(key)) continue;
    while (used.has(next)) next++;
    if (next > MAX_PORT) {
      return {
        ok: false,
        issues: [{ path: ["docker", "basePort"], message: `not enough host ports above ${docker.basePort} for ${wanted.length} published ports; lower it` }],
      };
    }
    used.add(next);
    hostPortOf.set(key, next);
  }
  const byReplica = new Map(
    plan.replicas.map((r) => [
      r.id,
      r.published.map((p): HostPort => ({ ...p, hostAddress: docker.publishAddress, hostPort: hostPortOf.get(keyOf(r.id, p.port))! })),
    ]),
  );
  return { ok: true, ports: { byReplica, lock: Object.fromEntries(wanted.map((key) => [key, hostPortOf.get(key)!])) } };
}
