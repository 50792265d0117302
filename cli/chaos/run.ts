/**
 * Plays a live timeline in real time: each host change at its simulated instant divided by
 * the speed, with a progress line, and whatever happens (the end, Ctrl-C, a failed docker
 * call) power restored to every host and the datacenter left as it was found.
 */
import { clock } from "../../components/power/chart";
import { realSeconds, type HostPowerChange, type LiveTimeline } from "../../components/power/live/timeline";
import type { FidelityRow, ProbeSamples, Tolerance } from "../../components/power/live/compare";
import type { ServicePrediction } from "../../components/power/live/predict";
import type { AppliedChange, LiveController, TouchedReplica } from "./controller";

/** What playing needs from the controller (LiveController; tests give a fake). */
export type PowerController = Pick<LiveController, "apply" | "restore" | "waitRestored" | "finish">;

export interface PlayOptions {
  readonly speed: number;
  /** Aborting stops the timeline; power is restored all the same. */
  readonly signal: AbortSignal;
  /** A progress line; `transient` lines may be overwritten by the next one (terminals). */
  readonly progress: (line: string, transient: boolean) => void;
  /** How long to wait for the restored datacenter to be healthy. @default 180000 */
  readonly restoreTimeoutMs?: number;
}

/**
 * The machine-readable log of a live run. Times: `simSeconds` on the scenario's clock,
 * `*RealSeconds` after the start of the run. Replicas carry service and replica ids, so
 * measured downtime and the simulator's prediction (`predicted`) can be joined to it.
 */
export interface ChaosLog {
  readonly datacenter: string;
  readonly scenario: string;
  readonly speed: number;
  readonly startedAt: string;
  readonly endSimSeconds: number;
  interrupted: boolean;
  readonly changes: AppliedChange[];
  restore: { realSeconds: number; started: TouchedReplica[]; healthyAtRealSeconds: number | null } | null;
  readonly predicted: readonly { service: string; downtimeSeconds: number; outages: number }[];
  /** The live prediction against the probes' measurement (added by the command after the run). */
  fidelity?: {
    readonly tolerance: Tolerance;
    /** The load average before the run, the cores, and the stretch of every boot it gave. */
    readonly machine: { readonly load: number; readonly cores: number; readonly bootSlowdown: number };
    readonly measuredUntilSeconds: number;
    readonly predicted: readonly ServicePrediction[];
    readonly rows: readonly FidelityRow[];
    /** Every probe's samples (real seconds after the start, ok or not), to look into a verdict. */
    readonly samples: readonly ProbeSamples[];
  };
}

function waitUntil(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** Changes grouped by simulated instant: one power event hits every host at once. */
export function byInstant(changes: readonly HostPowerChange[]): HostPowerChange[][] {
  const groups: HostPowerChange[][] = [];
  for (const c of changes) {
    const last = groups[groups.length - 1];
    if (last && last[0]!.at === c.at) last.push(c);
    else groups.push([c]);
  }
  return groups;
}

export async function playLive(
  timeline: LiveTimeline,
  datacenter: string,
  controller: PowerController,
  started: number,
  options: PlayOptions,
): Promise<ChaosLog> {
  const now = () => (Date.now() - started) / 1000;
  const log: ChaosLog = {
    datacenter,
    scenario: timeline.name,
    speed: options.speed,
    startedAt: new Date(started).toISOString(),
    endSimSeconds: timeline.endSeconds,
    interrupted: false,
    changes: [],
    restore: null,
    predicted: timeline.simulation.services.map((s) => ({ service: s.service, downtimeSeconds: s.downtimeSeconds, outages: s.outages })),
  };
  const dark = new Map<string, string[]>();
  let sim = 0;
  const line = () => {
    const down = [...dark].map(([h, r]) => `${h}${r.length ? ` (${r.join(", ")})` : ""}`).join(", ") || "nothing";
    return `sim ${clock(sim)} / ${clock(timeline.endSeconds)}  real ${now().toFixed(1)} s  dark: ${down}`;
  };
  const ticker = setInterval(() => {
    sim = Math.min(timeline.endSeconds, now() * options.speed);
    options.progress(line(), true);
  }, 1000);
  try {
    for (const group of byInstant(timeline.changes)) {
      const due = realSeconds(group[0]!.at, options.speed);
      await waitUntil((due - now()) * 1000, options.signal);
      if (options.signal.aborted) break;
      const applied = await Promise.all(group.map((c) => controller.apply(c, due)));
      log.changes.push(...applied);
      sim = group[0]!.at;
      for (const a of applied) {
        if (a.kind === "power-off")
          dark.set(
            a.host,
            a.killed.map((k) => k.replica),
          );
        if (a.kind === "power-on") dark.delete(a.host);
        options.progress(`${line()}  <- ${describe(a)}`, false);
      }
    }
    await waitUntil((realSeconds(timeline.endSeconds, options.speed) - now()) * 1000, options.signal);
  } finally {
    clearInterval(ticker);
    log.interrupted = options.signal.aborted;
    sim = Math.min(timeline.endSeconds, now() * options.speed);
    options.progress(`${line()}  ${log.interrupted ? "interrupted: " : ""}restoring power to every host`, false);
    const restoreStarted = now();
    try {
      const restarted = await controller.restore();
      log.restore = { realSeconds: restoreStarted, started: restarted, healthyAtRealSeconds: null };
      await controller.waitRestored(options.restoreTimeoutMs ?? 180_000);
      log.restore.healthyAtRealSeconds = now();
    } finally {
      await controller.finish();
    }
    dark.clear();
    options.progress(`${line()}  every container is back and healthy`, false);
  }
  return log;
}

function describe(a: AppliedChange): string {
  const list = (xs: readonly TouchedReplica[]) => xs.map((x) => x.replica).join(", ") || "no replicas";
  if (a.kind === "power-off") return `${a.host} lost power: killed ${list(a.killed)}`;
  if (a.kind === "power-on") return `${a.host} powered: agent up, started ${list(a.started)}`;
  const feeds = Object.entries(a.feeds)
    .map(([f, live]) => `${f} ${live ? "live" : "dark"}`)
    .join(", ");
  return `${a.host} still powered (feeds: ${feeds})`;
}
