/**
 * The probe loop: every `intervalMs` all targets are probed (at most `concurrency` at a
 * time, each under `timeoutMs`), results go into a short history, Prometheus metrics and
 * the status the page shows. A probe that times out or fails counts its port down.
 *
 * With the host agents' power state (./power.ts), a replica that is not up on a host its
 * agent reports unpowered is "no-power", not down, and a round in which a service had no
 * replica up is filed under `power` when every one of its replicas was "no-power", under
 * `failure` otherwise. Availability stays what clients saw (a dark service is down).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Logger } from "../../runtime/log";
import type { NocSettings } from "../../../contracts/settings/noc";
import type { PowerView } from "./powerState";
import { probeFor, type FailureReason, type ProbeContext, type ProbeTarget } from "./probes";

export type PortState = "up" | "degraded" | "down";
export type ReplicaState = PortState | "unknown" | "no-power";

export interface ProbeResult {
  readonly service: string;
  readonly replica: string;
  readonly port: string;
  readonly kind: string;
  readonly address: string;
  readonly state: PortState;
  readonly latencyMs: number;
  readonly detail: string;
  /** Why it was not up (undefined when up). */
  readonly reason?: FailureReason;
  readonly at: number;
}

/** One probe in the history window; failures keep their reason and detail. */
export interface HistoryEntry {
  readonly at: number;
  readonly state: PortState;
  readonly latencyMs: number;
  readonly reason?: FailureReason;
  readonly detail?: string;
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** The failure reason of a thrown error (sockets, TLS, timeouts). */
export function reasonOf(error: unknown): FailureReason {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  const message = (error as Error).message ?? "";
  if (message.startsWith("timed out")) return "timeout";
  if (code === "ECONNREFUSED") return "refused";
  if (["EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN"].includes(code)) return "unreachable";
  if (TLS_CODES.test(code) || /certificate|TLS|SSL/i.test(message)) return "tls";
  if (code === "ECONNRESET" || code === "EPIPE" || /closed/i.test(message)) return "closed";
  return "error";
}

/** A service in one round: a replica fully up, or down for want of power, or down for another reason. */
type RoundOutcome = "up" | "power" | "failure";

interface Round {
  readonly at: number;
  readonly services: Readonly<Record<string, RoundOutcome>>;
}

export interface NocStatus {
  readonly at: number | undefined;
  readonly rounds: number;
  readonly replicas: Record<string, ReplicaState>;
  readonly details: Record<string, string>;
  /** service id → share of rounds in the window with a replica fully up. */
  readonly availability: Record<string, number>;
  /** service id → share of rounds in the window it was down, by cause (see above). */
  readonly downtime: Record<string, { readonly power: number; readonly failure: number }>;
  /** Feeds, PDUs, racks and hosts as the host agents report them (undefined without a poller). */
  readonly power: PowerView | undefined;
  readonly probes: readonly ProbeResult[];
}

export interface MonitorOptions {
  readonly targets: readonly ProbeTarget[];
  /** Replicas with no probe route: always "unknown". */
  readonly unreachable?: readonly string[];
  /** The NOC's own replicas: up while this process serves (it does not probe itself). */
  readonly self?: readonly string[];
  readonly settings: NocSettings;
  readonly domain: string;
  readonly log: Logger;
  readonly registry?: Registry;
  readonly ca?: Buffer;
  readonly dbPassword?: string;
  /** Proxy service id → name on its certificate, for the HTTPS probe through it. */
  readonly proxyHosts?: Readonly<Record<string, string>>;
  /** The host agents' power state (./power.ts). */
  readonly power?: { view(): PowerView };
  /** Injected by tests. @default Date.now */
  readonly now?: () => number;
}

export class Monitor {
  private latest = new Map<string, ProbeResult>();
  /** `replica/port` → results in the history window, oldest first. */
  private past = new Map<string, HistoryEntry[]>();
  private rounds: Round[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly metrics;
  private readonly now: () => number;

  constructor(private readonly options: MonitorOptions) {
    this.now = options.now ?? Date.now;
    const registers = options.registry ? [options.registry] : [];
    const labelNames = ["service", "replica", "port"] as const;
    this.metrics = {
      up: new Gauge({ name: "noc_probe_up", help: "1 when the last probe of the port succeeded, 0.5 degraded, 0 down", labelNames, registers }),
      latency: new Gauge({ name: "noc_probe_latency_seconds", help: "Duration of the last probe of the port", labelNames, registers }),
      duration: new Histogram({
        name: "noc_probe_duration_seconds",
        help: "Probe durations by kind",
        labelNames: ["kind"],
        buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
        registers,
      }),
      results: new Counter({ name: "noc_probes_total", help: "Probes by service and result", labelNames: ["service", "state"], registers }),
      failures: new Counter({
        name: "noc_probe_failures_total",
        help: "Probes that were not up, by port and reason (timeout, refused, tls, login-refused, ...)",
        labelNames: ["service", "replica", "port", "reason"],
        registers,
      }),
      availability: new Gauge({
        name: "noc_service_availability_ratio",
        help: "Share of probe rounds in the history window with a replica fully up",
        labelNames: ["service"],
        registers,
      }),
      down: new Gauge({
        name: "noc_service_down_ratio",
        help: "Share of probe rounds in the history window with no replica up, by cause (power: every replica on an unpowered host)",
        labelNames: ["service", "cause"],
        registers,
      }),
    };
  }

  /** Probes every target once (a round already running is awaited instead of doubled). */
  runRound(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const queue = [...this.options.targets];
    const results: ProbeResult[] = [];
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) results.push(await this.probe(t));
    };
    await Promise.all(Array.from({ length: Math.min(this.options.settings.concurrency, queue.length) }, worker));
    const at = this.now();
    const horizon = at - this.options.settings.historyMinutes * 60_000;
    for (const r of results) {
      const key = `${r.replica}/${r.port}`;
      this.latest.set(key, r);
      const list = this.past.get(key) ?? this.past.set(key, []).get(key)!;
      const latencyMs = Math.round(r.latencyMs * 10) / 10;
      list.push(r.state === "up" ? { at: r.at, state: r.state, latencyMs } : { at: r.at, state: r.state, latencyMs, reason: r.reason!, detail: r.detail });
      while (list.length > 0 && list[0]!.at < horizon) list.shift();
    }
    const states = this.replicaStates();
    const byService = new Map<string, ReplicaState[]>();
    for (const t of this.options.targets) (byService.get(t.service) ?? byService.set(t.service, []).get(t.service)!).push(states[t.replica] ?? "unknown");
    const services: Record<string, RoundOutcome> = {};
    for (const [service, list] of byService) services[service] = list.includes("up") ? "up" : list.every((x) => x === "no-power") ? "power" : "failure";
    this.rounds.push({ at, services });
    while (this.rounds.length > 0 && this.rounds[0]!.at < horizon) this.rounds.shift();
    for (const [service, a] of Object.entries(this.availability())) this.metrics.availability.set({ service }, a);
    for (const [service, d] of Object.entries(this.downtime()))
      for (const cause of ["power", "failure"] as const) this.metrics.down.set({ service, cause }, d[cause]);
  }

  private async probe(target: ProbeTarget): Promise<ProbeResult> {
    const { kind, probe } = probeFor(target);
    const timeoutMs = this.options.settings.timeoutMs;
    const controller = new AbortController();
    const ctx: ProbeContext = {
      signal: controller.signal,
      timeoutMs,
      domain: this.options.domain,
      settings: this.options.settings,
      ...(this.options.ca ? { ca: this.options.ca } : {}),
      ...(this.options.dbPassword ? { dbPassword: this.options.dbPassword } : {}),
      ...(this.options.proxyHosts ? { proxyHosts: this.options.proxyHosts } : {}),
    };
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    let state: PortState;
    let detail: string;
    let reason: FailureReason | undefined;
    try {
      const outcome = await Promise.race([probe(target, ctx), timeout]);
      state = outcome.ok ? "up" : outcome.degraded ? "degraded" : "down";
      detail = outcome.detail;
      if (!outcome.ok) reason = outcome.reason ?? (outcome.degraded ? "unexpected-answer" : "error");
    } catch (error) {
      state = "down";
      reason = reasonOf(error);
      const code = (error as NodeJS.ErrnoException).code;
      const message = (error as Error).message ?? String(error);
      detail = reason === "timeout" ? message : code ? `${code}${reason === "tls" ? `: ${message.slice(0, 120)}` : ""}` : message.slice(0, 160);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    const latencyMs = performance.now() - started;
    const labels = { service: target.service, replica: target.replica, port: target.port.name };
    this.metrics.up.set(labels, state === "up" ? 1 : state === "degraded" ? 0.5 : 0);
    this.metrics.latency.set(labels, latencyMs / 1000);
    this.metrics.duration.observe({ kind }, latencyMs / 1000);
    this.metrics.results.inc({ service: target.service, state });
    if (reason) this.metrics.failures.inc({ ...labels, reason });
    if (state !== "up") this.options.log.debug({ ...labels, state, reason, detail }, "probe failed");
    return {
      service: target.service,
      replica: target.replica,
      port: target.port.name,
      kind,
      address: target.address,
      state,
      latencyMs,
      detail,
      ...(reason ? { reason } : {}),
      at: this.now(),
    };
  }

  /** up: every port up; down: none answered; degraded: in between; no-power: not up on a host reported unpowered. */
  replicaStates(): Record<string, ReplicaState> {
    const byReplica = new Map<string, PortState[]>();
    for (const r of this.latest.values()) (byReplica.get(r.replica) ?? byReplica.set(r.replica, []).get(r.replica)!).push(r.state);
    const out: Record<string, ReplicaState> = {};
    for (const id of this.options.unreachable ?? []) out[id] = "unknown";
    for (const id of this.options.self ?? []) out[id] = "up";
    for (const [id, states] of byReplica) {
      out[id] = states.every((s) => s === "up") ? "up" : states.every((s) => s === "down") ? "down" : "degraded";
    }
    const hosts = this.options.power?.view().hosts;
    if (hosts) for (const t of this.options.targets) if (hosts[t.host]?.state === "unpowered" && out[t.replica] !== "up") out[t.replica] = "no-power";
    return out;
  }

  availability(): Record<string, number> {
    const out: Record<string, number> = {};
    const services = new Set(this.options.targets.map((t) => t.service));
    for (const s of services) {
      const seen = this.rounds.filter((r) => s in r.services);
      if (seen.length > 0) out[s] = seen.filter((r) => r.services[s] === "up").length / seen.length;
    }
    return out;
  }

  /** service id → share of rounds in the window it was down for want of power, and for any other reason. */
  downtime(): Record<string, { power: number; failure: number }> {
    const out: Record<string, { power: number; failure: number }> = {};
    for (const s of new Set(this.options.targets.map((t) => t.service))) {
      const seen = this.rounds.filter((r) => s in r.services);
      const share = (cause: RoundOutcome) => seen.filter((r) => r.services[s] === cause).length / seen.length;
      if (seen.length > 0) out[s] = { power: share("power"), failure: share("failure") };
    }
    return out;
  }

  /** Every probe result in the history window, by `replica/port`. */
  history(): Record<string, readonly HistoryEntry[]> {
    return Object.fromEntries([...this.past].sort(([a], [b]) => a.localeCompare(b)));
  }

  status(): NocStatus {
    const probes = [...this.latest.values()].sort((a, b) => a.replica.localeCompare(b.replica) || a.port.localeCompare(b.port));
    const details: Record<string, string> = {};
    for (const p of probes)
      details[p.replica] = `${details[p.replica] ? `${details[p.replica]}; ` : ""}${p.port} ${p.state} ${Math.round(p.latencyMs)} ms (${p.detail})`;
    const power = this.options.power?.view();
    const dark = new Map(this.options.targets.filter((t) => power?.hosts[t.host]?.state === "unpowered").map((t) => [t.replica, t.host]));
    for (const [replica, host] of dark) details[replica] = `host ${host} has no power${details[replica] ? `; ${details[replica]}` : ""}`;
    return {
      at: this.rounds.at(-1)?.at,
      rounds: this.rounds.length,
      replicas: this.replicaStates(),
      details,
      availability: this.availability(),
      downtime: this.downtime(),
      power,
      probes,
    };
  }

  start(): void {
    const tick = () => {
      void this.runRound().catch((error: unknown) => this.options.log.error({ err: error }, "probe round failed"));
      this.timer = setTimeout(tick, this.options.settings.intervalMs);
    };
    tick();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.running;
  }
}
