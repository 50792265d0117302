/**
 * What a client should see during a live run: each probed service's down intervals on the
 * real clock, predicted from the simulator's host power changes (`liveTimeline`) plus what
 * the live datacenter adds on top of "a replica runs while its host has power":
 *
 * - a replica is down from its host's cut until its host's power returns **plus its role's
 *   boot time** (`BOOT_SECONDS`: from `docker start` to the first answer a client gets);
 *   a host still dark when the scenario ends boots when the run restores power (at the end);
 * - clients try every address they have: DNS resolvers ask the second name server, and the
 *   proxy's two A records (`edge`) are tried in turn, so those are down only while every
 *   replica is down;
 * - behind the proxy (`www`, `arena`) a request that fails on one upstream is retried on
 *   another, so a pool is down only while every upstream is down; but then the proxy's
 *   passive health check ejects the upstreams (`passive.failures` failed requests, which come
 *   in after `connectTimeoutMs` from a dead address) for `passive.ejectMs`, and a recovered
 *   upstream gets traffic again only when its ejection window ends. The proxy settings are
 *   read from the stack (contracts/settings/proxy.ts gives the defaults);
 * - a highly available db (data nodes and a monitor) is down when its primary goes until a
 *   standby is promoted, not until the primary's host boots (./haGroup.ts).
 *
 * Pure: no Docker, no clock. Times are real seconds after the start of the run.
 */
import { proxySettingsSchema, type ProxySettings } from "../../../contracts/settings/proxy";
import type { DatacenterPlan } from "../../plan/types";
import type { DatacenterSpec } from "../../spec/schema";
import { BOOT_SECONDS, bootRange, LOAD_STRETCH, type BootTime } from "./boot";
import { FAILOVER_SECONDS, haGroupDown } from "./haGroup";
import { realSeconds, type LiveTimeline } from "./timeline";

export { BOOT_SECONDS };

/** A half-open stretch of real time [from, to), seconds after the start of the run. */
export interface Interval {
  readonly from: number;
  readonly to: number;
}

/** How a client reaches a service: directly (any replica will do) or through the proxy's pool. */
export type Access = "direct" | "proxied";

export interface ServicePrediction {
  readonly service: string;
  readonly access: Access;
  /** With every role's shortest recorded boot time (BOOT_SECONDS `min`). */
  readonly down: readonly Interval[];
  readonly downSeconds: number;
  /**
   * With every role's longest recorded boot time (`max`): the prediction is the range between
   * the two, e.g. db's start-up plus PostgreSQL's crash recovery, which varies run to run.
   */
  readonly latest: { readonly down: readonly Interval[]; readonly seconds: number };
}

/**
 * When the controller actually applied the host changes (real seconds after the start: the
 * moment it began to cut or to boot the host), and when it restored power at the end. Docker
 * calls take seconds on a busy machine, so the prediction that is held against a measurement
 * places the cuts and boots where they happened; the simulator decided which and in what order.
 */
export interface AppliedTimes {
  readonly changes: readonly { readonly host: string; readonly kind: string; readonly realSeconds: number }[];
  readonly restoreAtRealSeconds?: number;
}

export interface PredictOptions {
  readonly speed: number;
  /** Overrides of BOOT_SECONDS per role: one number, or the shortest and longest. */
  readonly bootSeconds?: Readonly<Record<string, number | BootTime>>;
  /** Anchor the host changes on when they were applied instead of when they were due. */
  readonly applied?: AppliedTimes;
  /**
   * The CPU cores of the machine the datacenter runs on: replicas that boot at once share
   * them (`sharedBoots`). Default: as many as there are boots (no sharing).
   */
  readonly cores?: number;
  /**
   * The machine's 1-minute load average before the run (the datacenter's own boots not yet
   * in it): the boots share the cores with it (`sharedBoots`); a boot alone is stretched by
   * `loadSlowdown(load, cores)`. Default: idle.
   */
  readonly load?: number;
  /**
   * The primary of each highly available db when the run starts (service -> data node id).
   * Unknown, the prediction is the range between the primary cut last and cut first.
   */
  readonly primaries?: Readonly<Record<string, string>>;
  /** Overrides FAILOVER_SECONDS (./haGroup.ts). */
  readonly failoverSeconds?: number | BootTime;
}

/** One replica's boot: it begins `start` seconds after the start of the run and needs `work` seconds of one core. */
export interface BootJob {
  readonly start: number;
  readonly work: number;
}

/**
 * When each boot ends when boots share `cores` CPU cores fairly (processor sharing) with the
 * machine's other work, worth `background` boots (LOAD_STRETCH × its load average): n boots
 * each advance at cores ÷ (max(n, cores) + background) of a core, at most 1. A recorded boot
 * time (BOOT_SECONDS) is a replica booting alone on an idle machine, so it is that replica's
 * work: alone on a busy machine it is stretched by `loadSlowdown`; one host's three replicas
 * on two cores take a little longer each, a whole datacenter booting at once much longer.
 */
export function sharedBoots(jobs: readonly BootJob[], cores: number, background = 0, independent = false): number[] {
  const done = jobs.map(() => NaN);
  const left = jobs.map((j) => j.work);
  const order = jobs.map((_, i) => i).sort((a, b) => jobs[a]!.start - jobs[b]!.start);
  let t = order.length > 0 ? jobs[order[0]!]!.start : 0;
  let next = 0;
  const running = new Set<number>();
  while (next < order.length || running.size > 0) {
    while (next < order.length && jobs[order[next]!]!.start <= t + 1e-9) running.add(order[next++]!);
    if (running.size === 0) {
      t = jobs[order[next]!]!.start;
      continue;
    }
    // Independent boots slow down for the machine's other work only, never for each other.
    const rate = Math.min(1, cores / (Math.max(independent ? 1 : running.size, cores) + background));
    const soonest = Math.min(...[...running].map((i) => left[i]!));
    const arrival = next < order.length ? jobs[order[next]!]!.start : Infinity;
    const step = Math.min(soonest / rate, arrival - t);
    for (const i of running) left[i] = left[i]! - step * rate;
    t += step;
    for (const i of [...running])
      if (left[i]! <= 1e-9) {
        done[i] = t;
        running.delete(i);
      }
  }
  return done;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Sorted, merged, empty ones dropped. */
export function normalize(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.to > i.from).sort((a, b) => a.from - b.from);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.from <= last.to) out[out.length - 1] = { from: last.from, to: Math.max(last.to, i.to) };
    else out.push({ ...i });
  }
  return out;
}

export function total(intervals: readonly Interval[]): number {
  return round(normalize(intervals).reduce((s, i) => s + (i.to - i.from), 0));
}

/** The times covered by every list (down for a client that tries them all). */
export function intersect(lists: readonly (readonly Interval[])[]): Interval[] {
  if (lists.length === 0) return [];
  let acc = normalize(lists[0]!);
  for (const list of lists.slice(1)) {
    const next: Interval[] = [];
    for (const a of acc)
      for (const b of normalize(list))
        if (Math.min(a.to, b.to) > Math.max(a.from, b.from)) next.push({ from: Math.max(a.from, b.from), to: Math.min(a.to, b.to) });
    acc = normalize(next);
  }
  return acc;
}

/**
 * Per host: real-time stretches without power; a host dark at the end boots when power is
 * restored (the end of the scenario, or `applied.restoreAtRealSeconds`).
 */
export function hostDarkIntervals(timeline: LiveTimeline, speed: number, applied?: AppliedTimes): Map<string, Interval[]> {
  const end = applied?.restoreAtRealSeconds ?? realSeconds(timeline.endSeconds, speed);
  const out = new Map<string, Interval[]>();
  const since = new Map<string, number>();
  const changes = applied ? applied.changes.map((c) => ({ ...c, t: c.realSeconds })) : timeline.changes.map((c) => ({ ...c, t: realSeconds(c.at, speed) }));
  for (const c of changes) {
    const t = c.t;
    if (c.kind === "power-off") since.set(c.host, t);
    if (c.kind === "power-on" && since.has(c.host)) {
      out.set(c.host, [...(out.get(c.host) ?? []), { from: since.get(c.host)!, to: t }]);
      since.delete(c.host);
    }
  }
  for (const [host, from] of since) out.set(host, [...(out.get(host) ?? []), { from, to: Math.max(from, end) }]);
  return out;
}

/** The proxy's behaviour that shapes a pool's outage (the stack's `edge` settings, else the defaults). */
export function proxyModel(spec: DatacenterSpec): Pick<ProxySettings, "passive" | "connectTimeoutMs"> {
  const service = spec.services.find((s) => s.role === "proxy");
  const settings = proxySettingsSchema.safeParse(service?.settings ?? {});
  return settings.success ? settings.data : proxySettingsSchema.parse({});
}

/**
 * Seconds between requests to a service through the proxy during a live run: the probes'
 * beat (cli/chaos/measure.ts). Passive ejection is driven by traffic, and this is the traffic.
 */
export const REQUEST_INTERVAL_SECONDS = 0.25;

/**
 * A pool that was down (every upstream) during `outage`, whose upstreams were ready again at
 * `outage.to`: when the proxy sends it traffic again. The first failed requests eject the
 * upstreams for `ejectMs`; at the end of a window one more request is tried and, if it fails
 * (after `connectTimeoutMs` from a dead address), ejects them again. Once the host has power the
 * address answers at once (refused until the server listens), so failures are immediate.
 */
export function proxiedRecovery(
  outage: Interval,
  hostBackAt: number,
  proxy: Pick<ProxySettings, "passive" | "connectTimeoutMs">,
  requestIntervalSeconds = REQUEST_INTERVAL_SECONDS,
): number {
  const eject = proxy.passive.ejectMs / 1000;
  const failAfter = (t: number) => (t < hostBackAt ? proxy.connectTimeoutMs / 1000 : 0);
  // The first ejection needs `failures` failed requests: the last of them started that many
  // intervals after the cut. How long each takes to fail varies: requests in flight when the
  // server dies fail at once (reset), new ones to the dead address only after the connect
  // timeout. The live runs saw the ejection end 0.4 s and (three times) 2.5 s after the cut
  // plus the window; the model takes the middle, half the connect timeout.
  let start = outage.from + failAfter(outage.from) / 2 + (proxy.passive.failures - 1) * requestIntervalSeconds;
  if (outage.to <= start) return outage.to;
  for (;;) {
    const windowEnd = start + eject;
    if (outage.to <= windowEnd) return windowEnd;
    const failedAt = windowEnd + failAfter(windowEnd);
    if (outage.to <= failedAt) return outage.to;
    start = failedAt;
  }
}

/** Which services a client reaches through the proxy: the proxy's routes, else every web and game service. */
function proxiedServices(plan: DatacenterPlan): Set<string> {
  return new Set(plan.services.filter((s) => s.role === "web" || s.role === "game").map((s) => s.id));
}

/** Every service's down intervals for one boot time per role. */
function predictWith(
  spec: DatacenterSpec,
  plan: DatacenterPlan,
  dark: ReadonlyMap<string, readonly Interval[]>,
  boot: Readonly<Record<string, number>>,
  cores: number | undefined,
  background: number,
  ha: { readonly failoverSeconds: number; readonly primaries?: Readonly<Record<string, string>> },
  /** The earliest end: boots that do not slow each other, and the order of boots that spares the pools. */
  earliest = false,
): { service: string; access: Access; down: Interval[] }[] {
  const proxy = proxyModel(spec);
  const proxied = proxiedServices(plan);

  // Every replica's boots, sharing the machine's cores with the boots at the same time.
  const jobs = plan.replicas.flatMap((r) => (dark.get(r.host) ?? []).map((d) => ({ replica: r.id, d, start: d.to, work: boot[r.role] ?? 0 })));
  const ends = sharedBoots(jobs, cores ?? Math.max(1, jobs.length), background, earliest);
  const bootEnd = new Map(jobs.map((j, i) => [`${j.replica}@${j.d.from}`, ends[i]!]));
  const replicaDown = (service: string) =>
    plan.replicas
      .filter((r) => r.service === service)
      .map((r) => (dark.get(r.host) ?? []).map((d) => ({ from: d.from, to: bootEnd.get(`${r.id}@${d.from}`)!, hostBackAt: d.to })));

  const edge = plan.services.find((s) => s.role === "proxy");
  const edgeDown = edge ? intersect(replicaDown(edge.id)) : [];

  return plan.services.map((s) => {
    const perReplica = replicaDown(s.id);
    let down = intersect(perReplica);
    if (s.ha) {
      const member = (r: (typeof plan.replicas)[number]) => ({
        id: r.id,
        down: (dark.get(r.host) ?? []).map((d) => ({ from: d.from, to: bootEnd.get(`${r.id}@${d.from}`)! })),
      });
      const members = plan.replicas.filter((r) => r.service === s.id);
      const nodes = members.filter((r) => r.part !== "monitor").map(member);
      const monitor = member(members.find((r) => r.id === s.ha!.monitor)!);
      down = haGroupDown(nodes, monitor, ha.failoverSeconds, ha.primaries?.[s.id], earliest);
    }
    if (proxied.has(s.id) && s.role !== "proxy") {
      // The pool is back when the proxy admits the first upstream that recovers again. A proxy
      // that was itself down during the pool's outage starts again with nothing ejected: its
      // ejections count from the moment it answers again, not from the cut. Whether it ejects
      // the pool at all then depends on which of the two boots ends first, and their ranges
      // overlap: the earliest end takes the order that spares the pool (the proxy's first
      // requests already find an upstream), the latest the order that ejects it.
      down = down.map((d) => {
        const covering = perReplica.flat().filter((r) => r.from <= d.from + 1e-9 && r.to >= d.to - 1e-9);
        const hostBackAt = covering.length > 0 ? Math.min(...covering.map((r) => r.hostBackAt)) : d.from;
        const restarted = edgeDown.filter((e) => e.from < d.to && e.to > d.from).map((e) => e.to);
        if (restarted.length > 0 && earliest) return d;
        const seenFrom = restarted.length > 0 ? Math.max(...restarted) : d.from;
        return { from: d.from, to: proxiedRecovery({ from: seenFrom, to: d.to }, hostBackAt, proxy) };
      });
      down = normalize([...down, ...edgeDown]);
    }
    return { service: s.id, access: proxied.has(s.id) ? "proxied" : "direct", down: down.map((d) => ({ from: round(d.from), to: round(d.to) })) };
  });
}

/**
 * Every service's predicted down intervals on the real clock, up to and including the
 * recovery after the run restores power at its end: once with every role's shortest boot
 * time and boots that do not slow each other, once with its longest and boots sharing the cores.
 */
export function predictDowntime(spec: DatacenterSpec, plan: DatacenterPlan, timeline: LiveTimeline, options: PredictOptions): ServicePrediction[] {
  const boots = Object.fromEntries(Object.entries({ ...BOOT_SECONDS, ...options.bootSeconds }).map(([role, b]) => [role, bootRange(b)]));
  const dark = hostDarkIntervals(timeline, options.speed, options.applied);
  // The machine's other work, in boots: alone, a boot is stretched by loadSlowdown(load, cores).
  const background = options.load === undefined || options.cores === undefined ? 0 : LOAD_STRETCH * Math.max(0, options.load);
  const pick = (which: "min" | "max") => Object.fromEntries(Object.entries(boots).map(([role, b]) => [role, b[which]]));
  // The earliest end assumes the boots of one moment do not slow each other (only the
  // machine's other work does); the latest end shares the cores fairly among them. Measured on
  // a whole datacenter booting at once (scenario e, load ~1), the truth lies between: much of a
  // boot is waiting (the engine, health checks), not computing.
  const failover = bootRange(options.failoverSeconds ?? FAILOVER_SECONDS);
  const earliest = predictWith(spec, plan, dark, pick("min"), options.cores, background, { failoverSeconds: failover.min, primaries: options.primaries }, true);
  const latest = predictWith(spec, plan, dark, pick("max"), options.cores, background, { failoverSeconds: failover.max, primaries: options.primaries });
  return earliest.map((e, i) => ({ ...e, downSeconds: total(e.down), latest: { down: latest[i]!.down, seconds: total(latest[i]!.down) } }));
}
