/**
 * The deployed datacenter as its container labels describe it, and which containers a host
 * power change touches. Pure: the CLI reads the labels from Docker and applies the result.
 *
 * Labels (components/targets/docker/DockerTarget.ts): `serverpark.datacenter`,
 * `serverpark.kind` (`host` for an agent, `replica`), `serverpark.host`,
 * `serverpark.service`, `serverpark.replica`, `serverpark.role`.
 */
import type { PlannedHost } from "../../plan/types";
import type { DatacenterSpec } from "../../spec/schema";
import type { HostPowerState } from "./timeline";

export const LABEL_PREFIX = "serverpark";

/** One container as `docker inspect` reports it. */
export interface InspectedContainer {
  readonly id: string;
  readonly name: string;
  readonly running: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

export interface LiveReplica {
  readonly id: string;
  readonly name: string;
  readonly host: string;
  readonly service: string;
  readonly replica: string;
  readonly role: string;
  /** Running when the live run started: only these are ever killed or started. */
  readonly wasRunning: boolean;
}

export interface LiveAgent {
  readonly id: string;
  readonly name: string;
  readonly host: string;
  readonly wasRunning: boolean;
}

export interface LiveDatacenter {
  readonly datacenter: string;
  /** host id → its agent. */
  readonly agents: ReadonlyMap<string, LiveAgent>;
  /** host id → its replicas (sorted by name). */
  readonly replicas: ReadonlyMap<string, readonly LiveReplica[]>;
}

const label = (c: InspectedContainer, key: string): string | undefined => c.labels[`${LABEL_PREFIX}.${key}`];

/** Groups a datacenter's containers by host; containers of other datacenters are ignored. */
export function liveDatacenter(datacenter: string, containers: readonly InspectedContainer[]): LiveDatacenter {
  const agents = new Map<string, LiveAgent>();
  const replicas = new Map<string, LiveReplica[]>();
  for (const c of containers) {
    if (label(c, "datacenter") !== datacenter) continue;
    const host = label(c, "host");
    if (host === undefined) continue;
    const kind = label(c, "kind");
    if (kind === "host") agents.set(host, { id: c.id, name: c.name, host, wasRunning: c.running });
    else if (kind === "replica") {
      const list = replicas.get(host) ?? [];
      list.push({
        id: c.id,
        name: c.name,
        host,
        service: label(c, "service") ?? "",
        replica: label(c, "replica") ?? "",
        role: label(c, "role") ?? "",
        wasRunning: c.running,
      });
      replicas.set(host, list);
    }
  }
  for (const list of replicas.values()) list.sort((a, b) => a.name.localeCompare(b.name));
  return { datacenter, agents, replicas };
}

/**
 * Why a live run cannot start on this deployment (empty when it can): nothing deployed, a
 * deployed host the spec does not know, or a spec host without a running agent.
 */
export function deploymentProblems(live: LiveDatacenter, spec: DatacenterSpec): string[] {
  const hosts = new Set([...live.agents.keys(), ...live.replicas.keys()]);
  if (hosts.size === 0)
    return [
      `datacenter "${live.datacenter}" is not deployed: no containers are labelled ${LABEL_PREFIX}.datacenter=${live.datacenter} (deploy it first, e.g. npm run up)`,
    ];
  const problems: string[] = [];
  const known = new Set(spec.hosts.map((h) => h.id));
  for (const host of [...hosts].sort()) {
    if (!known.has(host)) problems.push(`host "${host}" is deployed but not in the stack's spec; deploy the stack again so they agree`);
  }
  for (const host of spec.hosts) {
    const agent = live.agents.get(host.id);
    if (!agent) problems.push(`host "${host.id}" has no agent container (label ${LABEL_PREFIX}.kind=host); deploy the stack again`);
    else if (!agent.wasRunning) problems.push(`the agent of host "${host.id}" (container ${agent.name}) is not running; start it first`);
  }
  return problems;
}

/** Replicas a power cut on `host` kills: those on that host that were running at the start. */
export function replicasToKill(live: LiveDatacenter, host: string): LiveReplica[] {
  return (live.replicas.get(host) ?? []).filter((r) => r.wasRunning);
}

/** Replicas a boot of `host` starts: the same set, so a replica found stopped stays stopped. */
export function replicasToStart(live: LiveDatacenter, host: string): LiveReplica[] {
  return replicasToKill(live, host);
}

/** The body of the agent's `POST /power` (images/host-agent/) for a host state. */
export interface AgentPowerBody {
  readonly feeds: Record<string, boolean>;
  readonly pdus: Record<string, boolean>;
  readonly psus: Record<string, boolean>;
}

/**
 * What the agent is told. Feeds and PDUs are reported as the simulator sees them (a failed
 * PDU is the PDU's state, so the NOC shows the PDU down, not the PSUs behind it). When the
 * host is dark although a PSU has a live feed through a working PDU (the host or its rack
 * failed), every PSU is reported failed, so the agent says "unpowered" exactly when the
 * simulator does. PSU ids are the agent's defaults (`psu1`, `psu2`, … in plan order).
 */
export function agentPowerBody(host: Pick<PlannedHost, "psus">, state: HostPowerState): AgentPowerBody {
  const feeds: Record<string, boolean> = {};
  const pdus: Record<string, boolean> = {};
  for (const psu of host.psus) {
    feeds[psu.feed] = state.feeds[psu.feed] ?? true;
    pdus[psu.pdu] = state.pdus?.[psu.pdu] ?? true;
  }
  const supplyExplains = host.psus.some((p) => feeds[p.feed] && pdus[p.pdu]) === state.powered;
  if (state.powered && !supplyExplains) {
    for (const f of Object.keys(feeds)) feeds[f] = true;
    for (const p of Object.keys(pdus)) pdus[p] = true;
  }
  const unitsOk = state.powered || supplyExplains;
  return { feeds, pdus, psus: Object.fromEntries(host.psus.map((_, i) => [`psu${i + 1}`, unitsOk])) };
}

/** A PSU as the agent's `GET /power` lists it. */
export interface AgentPsu {
  readonly id: string;
  readonly pdu: string;
  readonly feed: string;
}

/**
 * Why the running agent of a host does not match the stack's plan (undefined when it does):
 * its PSUs must be the plan's, in order, or the power changes would name PSUs it lacks.
 */
export function agentMismatch(host: Pick<PlannedHost, "id" | "psus">, reported: readonly AgentPsu[]): string | undefined {
  const show = (psus: readonly { pdu: string; feed: string }[]) => psus.map((p, i) => `psu${i + 1} ${p.pdu}/${p.feed}`).join(", ") || "none";
  const same =
    reported.length === host.psus.length && reported.every((p, i) => p.id === `psu${i + 1}` && p.pdu === host.psus[i]!.pdu && p.feed === host.psus[i]!.feed);
  return same
    ? undefined
    : `the agent of host "${host.id}" reports PSUs ${show(reported)}, the stack's plan has ${show(host.psus)}; deploy the stack again so they agree`;
}
