/**
 * The docker calls of the chaos controller (through lab/docker-cli.ts: argv arrays, never a
 * shell; errors that carry docker's own message). Only this file of the controller runs
 * docker. Nothing here gives a container the Docker socket: the controller runs on the
 * machine that owns it.
 */
import { docker as run, DockerCommandError } from "../../lab/docker-cli";
import type { AgentPowerBody, InspectedContainer } from "../../components/power/live/containers";
import { LABEL_PREFIX } from "../../components/power/live/containers";

/** Every docker call of the controller, in a process group of its own (see RunOptions.detached). */
function docker(args: readonly string[], options: { allowFailure?: boolean; timeoutMs?: number } = {}) {
  return run(args, { timeoutMs: 60_000, ...options, detached: true });
}

/** What `docker inspect` says about a container's state. */
export interface ContainerState {
  readonly id: string;
  readonly name: string;
  readonly running: boolean;
  readonly startedAt: string;
  /** healthy | unhealthy | starting, or undefined without a health check. */
  readonly health: string | undefined;
  /** Start time of the newest health probe. */
  readonly lastProbeAt: string | undefined;
}

interface Inspected {
  Id: string;
  Name: string;
  State: { Running: boolean; StartedAt: string; Health?: { Status: string; Log?: { Start: string }[] | null } };
  Config: { Labels: Record<string, string> | null };
}

async function inspect(ids: readonly string[]): Promise<Inspected[]> {
  if (ids.length === 0) return [];
  return JSON.parse((await docker(["inspect", "--type", "container", ...ids])).stdout) as Inspected[];
}

/** Every container (running or not) labelled with the datacenter. */
export async function datacenterContainers(datacenter: string): Promise<InspectedContainer[]> {
  const { stdout } = await docker(["ps", "-aq", "--no-trunc", "--filter", `label=${LABEL_PREFIX}.datacenter=${datacenter}`]);
  const ids = stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return (await inspect(ids)).map((c) => ({ id: c.Id, name: c.Name.replace(/^\//, ""), running: c.State.Running, labels: c.Config.Labels ?? {} }));
}

export async function containerStates(ids: readonly string[]): Promise<ContainerState[]> {
  return (await inspect(ids)).map((c) => {
    const log = c.State.Health?.Log ?? [];
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ""),
      running: c.State.Running,
      startedAt: c.State.StartedAt,
      health: c.State.Health?.Status,
      lastProbeAt: log.length > 0 ? log[log.length - 1]!.Start : undefined,
    };
  });
}

/**
 * Healthy since its last start: running, and (with a health check) reported healthy by a
 * probe that ran after the start, so a status left over from before a kill never counts.
 */
export function healthySinceStart(s: ContainerState): boolean {
  if (!s.running) return false;
  if (s.health === undefined) return true;
  return s.health === "healthy" && s.lastProbeAt !== undefined && Date.parse(s.lastProbeAt) >= Date.parse(s.startedAt);
}

/**
 * Starts go to the engine one command at a time. With several hosts booted at the same
 * instant (both feeds lost) they came at once, and twice in 2026-12-06's runs the
 * Docker 20.10 engine afterwards refused to remove a network ("has active endpoints" with no
 * container on it: a leaked endpoint count that only an engine restart clears). Whether
 * concurrent starts are the cause is not proven; one at a time costs little, since the engine
 * starts containers about one after another anyway.
 */
let engineQueue: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(call: () => Promise<T>): Promise<T> {
  const next = engineQueue.then(call, call);
  engineQueue = next.catch(() => undefined);
  return next;
}

/** A power cut: SIGKILL, no stop timeout, no graceful shutdown. Already-stopped containers are fine. */
export async function killContainers(ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const r = await docker(["kill", "--signal", "KILL", ...ids], { allowFailure: true });
  if (r.exitCode === 0) return;
  const real = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/is not running/.test(l));
  if (real.length > 0) throw new DockerCommandError(["kill", ...ids], { ...r, stderr: real.join("\n") });
}

/** `docker start`, after the starts queued before it; `onBegin` when it is sent to the engine (the boot begins). */
export async function startContainers(ids: readonly string[], onBegin: () => void = () => undefined): Promise<void> {
  if (ids.length === 0) return onBegin();
  await oneAtATime(() => {
    onBegin();
    return docker(["start", ...ids]);
  });
}

/** The agent's power state as its `GET /power` answers (images/host-agent/src/power.ts). */
export interface AgentSnapshot {
  readonly powered: boolean;
  readonly feeds: Record<string, boolean>;
  readonly pdus: Record<string, boolean>;
  readonly psus: readonly { id: string; pdu: string; feed: string; healthy: boolean }[];
}

// Runs inside the agent container with the node it already has; the body comes in as argv.
const AGENT_SCRIPT = `const b=process.argv[1];const p=process.env.SP_MGMT_PORT||9100;
fetch("http://127.0.0.1:"+p+"/power",b?{method:"POST",headers:{"content-type":"application/json"},body:b}:{})
.then(async r=>{const t=await r.text();if(!r.ok){console.error("HTTP "+r.status+": "+t.trim());process.exit(1)}process.stdout.write(t)})
.catch(e=>{console.error(e.message);process.exit(1)})`;

/** Reads (no body) or changes the agent's power state through its management port. */
export async function agentPower(
  container: string,
  body?: AgentPowerBody | (Omit<AgentSnapshot, "powered" | "psus"> & { psus: Record<string, boolean> }),
): Promise<AgentSnapshot> {
  const args = ["exec", container, "node", "-e", AGENT_SCRIPT, ...(body ? [JSON.stringify(body)] : [])];
  return JSON.parse((await docker(args, { timeoutMs: 30_000 })).stdout) as AgentSnapshot;
}

// Runs inside a db data node's container: its own view of itself from the management port (images/db/src/ha/routes.ts).
const CLUSTER_SCRIPT = `const p=process.env.SP_MGMT_PORT||9100;
fetch("http://127.0.0.1:"+p+"/cluster").then(async r=>{if(!r.ok)process.exit(1);const j=await r.json();process.stdout.write(String(j.local&&j.local.role))})
.catch(()=>process.exit(1))`;

/**
 * Which of a highly available db's data nodes is the primary now (replica id), by asking each
 * one's `GET /cluster`; undefined when none says so (the prediction then takes both cases).
 */
export async function haPrimary(nodes: readonly { readonly replica: string; readonly name: string }[]): Promise<string | undefined> {
  for (const n of nodes) {
    const out = await docker(["exec", n.name, "node", "-e", CLUSTER_SCRIPT], { allowFailure: true, timeoutMs: 20_000 }).catch(() => undefined);
    if (out?.stdout.trim() === "primary") return n.replica;
  }
  return undefined;
}
