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
 * Every host port of a stack, FTP's passive ports included, lies from its `basePort` up, so
 * stacks that share an engine keep apart by their base ports.
 */
import { ROLE_INFO, type Role } from "../../../contracts/roles";
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
 * shares one). A replica's `sameNumber` ports (FTP's passive ports) get one unbroken run of
 * host ports, allocated like the others, and the container listens on those numbers
 * (`containerPort`, `portRangeEnv`): PASV/EPSV name the port the server listens on, so the
 * number inside must be the number outside, and a fixed number would make two stacks on one
 * engine clash. Locked ports (a run only as a whole, unbroken) are kept when still in range
 * and free; then every other port takes the lowest free port from `basePort`, then each
 * run the lowest free stretch, in the plan's replica order.
 */
export function allocateHostPorts(
  docker: Pick<DatacenterSpec["docker"], "publishAddress" | "basePort">,
  plan: Pick<DatacenterPlan, "replicas">,
  locked: Readonly<Record<string, number>> = {},
): HostPortsResult {
  const singles: string[] = [];
  const runs: string[][] = [];
  for (const r of plan.replicas) {
    const run: string[] = [];
    for (const port of new Set(r.published.map((p) => p.port))) {
      if (r.published.some((p) => p.port === port && p.sameNumber)) run.push(keyOf(r.id, port));
      else singles.push(keyOf(r.id, port));
    }
    if (run.length > 0) runs.push(run);
  }
  const used = new Set<number>();
  const hostPortOf = new Map<string, number>();
  const take = (key: string, port: number) => void (used.add(port), hostPortOf.set(key, port));
  const free = (from: number, length: number) =>
    from >= docker.basePort && from + length - 1 <= MAX_PORT && ![...Array(length).keys()].some((i) => used.has(from + i));
  for (const run of runs) {
    const first = locked[run[0]!];
    if (first !== undefined && run.every((key, i) => locked[key] === first + i) && free(first, run.length)) run.forEach((key, i) => take(key, first + i));
  }
  for (const key of singles) {
    const port = locked[key];
    if (port !== undefined && free(port, 1)) take(key, port);
  }
  const wanted = [...singles, ...runs.flat()];
  const exhausted = (): HostPortsResult => ({
    ok: false,
    issues: [{ path: ["docker", "basePort"], message: `not enough host ports above ${docker.basePort} for ${wanted.length} published ports; lower it` }],
  });
  let next = docker.basePort;
  for (const key of singles) {
    if (hostPortOf.has(key)) continue;
    while (used.has(next)) next++;
    if (next > MAX_PORT) return exhausted();
    take(key, next);
  }
  for (const run of runs) {
    if (hostPortOf.has(run[0]!)) continue;
    let from = docker.basePort;
    while (from <= MAX_PORT && !free(from, run.length)) from++;
    if (from > MAX_PORT) return exhausted();
    run.forEach((key, i) => take(key, from + i));
  }
  const byReplica = new Map(
    plan.replicas.map((r) => [
      r.id,
      r.published.map((p): HostPort => ({ ...p, hostAddress: docker.publishAddress, hostPort: hostPortOf.get(keyOf(r.id, p.port))! })),
    ]),
  );
  return { ok: true, ports: { byReplica, lock: Object.fromEntries(wanted.map((key) => [key, hostPortOf.get(key)!])) } };
}

/** The port inside the container: a `sameNumber` port's is its host port (see allocateHostPorts), any other's the plan's. */
export function containerPort(p: HostPort): number {
  return p.sameNumber ? p.hostPort : p.port;
}

/** The variable that moves a replica's `sameNumber` ports onto their host ports (`from-to`), when it has any. */
export function portRangeEnv(role: Role, ports: readonly HostPort[]): Record<string, string> {
  const moved = ports.filter((p) => p.sameNumber).map((p) => p.hostPort);
  const name = ROLE_INFO[role].portRangeEnv;
  if (moved.length === 0 || name === undefined) return {};
  return { [name]: `${Math.min(...moved)}-${Math.max(...moved)}` };
}
