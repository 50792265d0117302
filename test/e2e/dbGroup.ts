/**
 * The e2e datacenter's highly available db (the local stack's `db`, `replicas: 2`: data nodes
 * db-0 and db-1 and the pg_auto_failover monitor db-monitor), as test/support/haLab.ts's
 * HaGroup, so its primaryOf, monitorView and psql apply here too. The connection string is
 * the one the group documents (images/db/README.md "How clients follow the primary"): read
 * from a data node's GET /cluster (`clientUri`) with the operator's certificate, completed
 * with the application password and the datacenter CA.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { MANAGEMENT_PORT } from "../../contracts/roles";
import { monitorView, waitFor, type HaGroup, type Member } from "../support/haLab";
import type { E2eContainer, E2eDatacenter } from "./facts";

const run = promisify(execFile);

/** The operator's call to a management route (curl with the stack's operator certificate): status and JSON. */
export async function operator(dc: E2eDatacenter, method: string, address: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const op = dc.operator!;
  const args = ["-s", "-w", "\n%{http_code}", "--max-time", "120", "--cacert", op.ca, "--cert", op.cert, "--key", op.key, "-X", method];
  if (body !== undefined) args.push("-H", "content-type: application/json", "-d", JSON.stringify(body));
  const { stdout } = await run("curl", [...args, `https://${address}:${MANAGEMENT_PORT}${path}`], { timeout: 150_000 });
  const lines = stdout.trimEnd().split("\n");
  const status = Number(lines.pop());
  return { status, json: JSON.parse(lines.join("\n") || "null") };
}

export interface E2eDbGroup extends HaGroup {
  /** The data nodes' containers, in replica order. */
  readonly dataNodes: readonly E2eContainer[];
  /** The monitor's container. */
  readonly monitorContainer: E2eContainer;
  /** A data node's container by its member. */
  container(member: Member): E2eContainer;
}

/** The planned replicas of the db service: data nodes and the monitor. */
export function dbReplicas(dc: E2eDatacenter, service = "db"): { dataNodes: E2eContainer[]; monitor: E2eContainer } {
  const planned = (dc.plan.replicas as { id: string; service: string; part?: string }[]).filter((r) => r.service === service);
  const monitor = planned.find((r) => r.part === "monitor");
  if (!monitor) throw new Error(`${service} is not a highly available group in the e2e datacenter: no monitor planned`);
  return { dataNodes: planned.filter((r) => r !== monitor).map((r) => dc.replica(r.id)), monitor: dc.replica(monitor.id) };
}

/** The group, its connection string from db-0's GET /cluster. */
export async function e2eDbGroup(dc: E2eDatacenter, service = "db"): Promise<E2eDbGroup> {
  const { dataNodes, monitor } = dbReplicas(dc, service);
  const first = dataNodes[0]!;
  const cluster = await operator(dc, "GET", first.addresses.mgmt!, "/cluster");
  if (cluster.status !== 200) throw new Error(`GET /cluster on ${first.name}: ${cluster.status} ${JSON.stringify(cluster.json)}`);
  // postgresql://<user>@<host:port>,<host:port>/<database>?<options>: a multi-host URI, which WHATWG URL does not parse.
  const documented = /^postgresql:\/\/([^@/]+)@([^/]+)\/([^?]+)\?(.+)$/.exec(String((cluster.json as { clientUri?: string }).clientUri));
  if (!documented) throw new Error(`GET /cluster on ${first.name}: no multi-host clientUri in ${JSON.stringify(cluster.json)}`);
  const [, user, hosts, database, options] = documented;
  const password = (await run("docker", ["exec", first.name, "cat", "/etc/serverpark/secrets/db-password"], { timeout: 30_000 })).stdout.trim();
  const uri = (at: string, query: string) =>
    `postgresql://${user}:${encodeURIComponent(password)}@${at}/${database}?${query}&sslrootcert=${encodeURIComponent(dc.operator!.ca)}`;
  const nodes: Member[] = dataNodes.map((c) => ({ name: c.replica!, container: c.name, host: c.addresses.private!, port: 5432 }));
  return {
    nodes,
    monitor: monitor.name,
    uri: uri(hosts!, options!),
    memberUri: (m) => uri(`${m.host}:${m.port}`, options!.replace("target_session_attrs=read-write", "target_session_attrs=any")),
    dataNodes,
    monitorContainer: monitor,
    container: (m) => dataNodes.find((c) => c.replica === m.name)!,
  };
}

/** Waits until the monitor sees a primary and a secondary (a group that just booted, or lost a node, may still be joining its standby). */
export async function waitSettled(group: HaGroup, timeoutMs = 300_000): Promise<Record<string, string>> {
  return waitFor(
    "the db monitor's view: a primary and a secondary",
    async () => {
      const view = await monitorView(group);
      return Object.values(view).sort().join(",") === "primary,secondary" ? view : undefined;
    },
    timeoutMs,
  );
}
