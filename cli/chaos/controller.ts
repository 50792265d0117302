/**
 * Drives the running datacenter's host power: a power cut SIGKILLs every replica on the
 * host at once and tells its agent the host is dark; power returning boots the host (the
 * agent is told first, then its replicas start) and watches them until healthy. Replicas
 * on other hosts are never touched. `restore()` brings everything back as it was found.
 *
 * The agent container keeps running through a cut: it plays the host's BMC/power meter, so
 * it can report "unpowered" (/healthz 503, serverpark_host_powered 0) instead of vanishing
 * like a crashed agent would.
 */
import type { DatacenterPlan, PlannedHost } from "../../components/plan/types";
import { agentMismatch, agentPowerBody, replicasToKill, replicasToStart, type LiveDatacenter, type LiveReplica } from "../../components/power/live/containers";
import type { HostPowerChange } from "../../components/power/live/timeline";
import { agentPower, containerStates, healthySinceStart, killContainers, startContainers, type AgentSnapshot } from "./docker";

/** One container a change touched, named so measured downtime can be joined to services later. */
export interface TouchedReplica {
  readonly container: string;
  readonly service: string;
  readonly replica: string;
}

/** A change as applied: what the simulator asked for and what happened, on both clocks. */
export interface AppliedChange {
  readonly host: string;
  readonly kind: HostPowerChange["kind"];
  readonly powered: boolean;
  readonly feeds: Readonly<Record<string, boolean>>;
  readonly simSeconds: number;
  /** Real seconds after the start when the change was due, and when it was applied (a boot queued behind another host's starts: moved by the wait). */
  readonly plannedRealSeconds: number;
  realSeconds: number;
  readonly killed: readonly TouchedReplica[];
  readonly started: readonly TouchedReplica[];
  /** What the agent reported after the change. */
  agentPowered: boolean | null;
  /** For a boot: real seconds after the start when every started replica was healthy (null: not yet, or cut again first). */
  healthyAtRealSeconds: number | null;
}

const touched = (r: LiveReplica): TouchedReplica => ({ container: r.name, service: r.service, replica: r.replica });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class HealthTimeoutError extends Error {}

export class LiveController {
  private readonly hosts: Map<string, PlannedHost>;
  private readonly generation = new Map<string, number>();
  private readonly watches = new Set<Promise<void>>();
  private readonly found = new Map<string, AgentSnapshot>();
  private readonly foundHealthy = new Set<string>();
  private stopping = false;

  constructor(
    private readonly live: LiveDatacenter,
    plan: DatacenterPlan,
    /** Real seconds since the run started. */
    private readonly now: () => number,
  ) {
    this.hosts = new Map(plan.hosts.map((h) => [h.id, h]));
  }

  /**
   * Records every agent's power state and which containers are healthy, to restore them at the
   * end. Changes nothing; returns why the run cannot start (agents that do not match the plan).
   */
  async snapshot(): Promise<string[]> {
    await Promise.all(
      [...this.live.agents.values()].map(async (a) => {
        this.found.set(a.host, await agentPower(a.name));
      }),
    );
    const problems: string[] = [];
    for (const [host, snapshot] of this.found) {
      const planned = this.hosts.get(host);
      const mismatch = planned && agentMismatch(planned, snapshot.psus);
      if (mismatch) problems.push(mismatch);
    }
    const states = await containerStates(this.allIds());
    for (const s of states) if (s.health === "healthy" || (s.running && s.health === undefined)) this.foundHealthy.add(s.id);
    return problems;
  }

  async apply(change: HostPowerChange, plannedRealSeconds: number): Promise<AppliedChange> {
    const agent = this.live.agents.get(change.host);
    const host = this.hosts.get(change.host);
    if (!agent || !host) throw new Error(`host "${change.host}" has no agent in the running datacenter`);
    const gen = (this.generation.get(change.host) ?? 0) + (change.kind === "supply" ? 0 : 1);
    this.generation.set(change.host, gen);
    const body = agentPowerBody(host, change);
    const applied: AppliedChange = {
      host: change.host,
      kind: change.kind,
      powered: change.powered,
      feeds: change.feeds,
      simSeconds: change.at,
      plannedRealSeconds,
      realSeconds: this.now(),
      killed: change.kind === "power-off" ? replicasToKill(this.live, change.host).map(touched) : [],
      started: change.kind === "power-on" ? replicasToStart(this.live, change.host).map(touched) : [],
      agentPowered: null,
      healthyAtRealSeconds: null,
    };
    if (change.kind === "power-off") {
      // The servers die with the power; the agent (the host's power meter) reports it after.
      await killContainers(replicasToKill(this.live, change.host).map((r) => r.id));
      applied.agentPowered = (await agentPower(agent.name, body)).powered;
    } else if (change.kind === "power-on") {
      // Boot order: the host (its agent) first, then the servers on it.
      applied.agentPowered = (await agentPower(agent.name, body)).powered;
      const replicas = replicasToStart(this.live, change.host);
      // Starts are queued one at a time: a boot waiting behind another host's begins that much later.
      const requested = this.now();
      await startContainers(
        replicas.map((r) => r.id),
        () => (applied.realSeconds += this.now() - requested),
      );
      this.watch(applied, replicas, gen);
    } else {
      applied.agentPowered = (await agentPower(agent.name, body)).powered;
    }
    return applied;
  }

  /** Polls until the booted replicas are healthy, unless the host is cut again or the run stops first. */
  private watch(applied: AppliedChange, replicas: readonly LiveReplica[], gen: number): void {
    const ids = replicas.map((r) => r.id);
    const p = (async () => {
      for (;;) {
        const states = await containerStates(ids).catch(() => []);
        if (states.length === ids.length && states.every(healthySinceStart)) {
          applied.healthyAtRealSeconds = this.now();
          return;
        }
        if (this.generation.get(applied.host) !== gen || this.stopping) return;
        await sleep(250);
      }
    })();
    this.watches.add(p);
    void p.finally(() => this.watches.delete(p));
  }

  /** Stops watching boots (each gets one last look) once the run is over. */
  async finish(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.watches]);
  }

  /**
   * Every agent back to the power state it was found in, then every replica that was running
   * at the start and is not running now started (the agent first, as in a boot).
   */
  async restore(): Promise<TouchedReplica[]> {
    await Promise.all(
      [...this.live.agents.values()].map(async (a) => {
        const was = this.found.get(a.host);
        if (!was) return;
        await agentPower(a.name, { feeds: was.feeds, pdus: was.pdus, psus: Object.fromEntries(was.psus.map((p) => [p.id, p.healthy])) });
      }),
    );
    const replicas = [...this.live.replicas.values()].flat().filter((r) => r.wasRunning);
    const states = new Map((await containerStates(replicas.map((r) => r.id))).map((s) => [s.id, s]));
    const stopped = replicas.filter((r) => !states.get(r.id)?.running);
    await startContainers(stopped.map((r) => r.id));
    return stopped.map(touched);
  }

  /** Waits until every container healthy at the start is healthy again (and every running one runs). */
  async waitRestored(timeoutMs: number): Promise<void> {
    const ids = this.allIds();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await containerStates(ids);
      const waiting = states.filter((s) => (this.foundHealthy.has(s.id) ? !healthySinceStart(s) : this.wasRunning(s.id) && !s.running));
      if (waiting.length === 0) return;
      if (Date.now() > deadline)
        throw new HealthTimeoutError(
          `after ${Math.round(timeoutMs / 1000)} s these containers are still not healthy again: ${waiting.map((s) => `${s.name} (${s.running ? (s.health ?? "running") : "stopped"})`).join(", ")}`,
        );
      await sleep(500);
    }
  }

  private wasRunning(id: string): boolean {
    return [...this.live.agents.values(), ...[...this.live.replicas.values()].flat()].some((c) => c.id === id && c.wasRunning);
  }

  private allIds(): string[] {
    return [...this.live.agents.values(), ...[...this.live.replicas.values()].flat()].map((c) => c.id);
  }
}
