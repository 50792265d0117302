/**
 * Prediction against measurement: the probes' samples become measured down intervals, and
 * each probe's measured downtime is held against its service's predicted downtime with a
 * tolerance. Pure: no I/O, no clock.
 */
import { normalize, total, type Interval, type ServicePrediction } from "./predict";

/**
 * One probe attempt, real seconds after the start of the run. A failure is timed when it was
 * asked (the service was not answering then); a success when its answer came (`askedAt`: when
 * it was asked), since an attempt asked during an outage can be answered only once the
 * service is back (a retransmitted SYN reaching the rebooted server).
 */
export interface Sample {
  readonly at: number;
  readonly ok: boolean;
  readonly askedAt?: number;
}

export interface ProbeSamples {
  /** e.g. `www/https`: the service, then how it was probed. */
  readonly probe: string;
  readonly service: string;
  /** Seconds between sample starts. */
  readonly intervalSeconds: number;
  readonly samples: readonly Sample[];
}

export interface Tolerance {
  readonly seconds: number;
  /** Of the predicted downtime. */
  readonly fraction: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { seconds: 2, fraction: 0.1 };

/** Outages shorter than this (one failed sample at 250 ms) are shown but are not "went down". */
export const MIN_OUTAGE_SECONDS = 0.5;

export class ToleranceError extends Error {
  constructor(value: string) {
    super(`--tolerance must be seconds and/or a percentage, such as "2s", "10%" or "3s,15%", got "${value}"`);
    this.name = "ToleranceError";
  }
}

/** "2s,10%", "3", "15%": the parts given replace the defaults. */
export function parseTolerance(value: string | undefined): Tolerance {
  if (value === undefined) return DEFAULT_TOLERANCE;
  let { seconds, fraction } = DEFAULT_TOLERANCE;
  const parts = value.split(",").map((p) => p.trim());
  if (parts.length === 0 || parts.length > 2) throw new ToleranceError(value);
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)\s*(s|%)?$/.exec(part);
    if (!m) throw new ToleranceError(value);
    if (m[2] === "%") fraction = Number(m[1]) / 100;
    else seconds = Number(m[1]);
  }
  return { seconds, fraction };
}

/**
 * Successes that say nothing about a new client: asked before, and answered after, an attempt
 * that was refused. Such an answer completed a connection that was already under way (the
 * proxy lets an upgrade it had already sent to an upstream finish, while it refuses new ones
 * to that upstream, ejected in the meantime); a client asking when it came would have been
 * refused like the later attempt was. Counting it as "up" showed brief recoveries mid-outage.
 */
export function overtaken(samples: readonly Sample[]): Sample[] {
  const refusedAt = samples.filter((s) => !s.ok).map((s) => s.at);
  return samples.filter((s) => s.ok && s.askedAt !== undefined && refusedAt.some((t) => t > s.askedAt! && t < s.at));
}

/**
 * Failed samples as down intervals: a failed sample holds until the next sample starts (the
 * next observation; the last one holds for one interval), and failed neighbours merge.
 * Samples at or after `until` are ignored, and so are overtaken successes.
 */
export function measuredIntervals(probe: ProbeSamples, until = Infinity): Interval[] {
  const late = new Set(overtaken(probe.samples));
  const samples = [...probe.samples].filter((s) => s.at < until && !late.has(s)).sort((a, b) => a.at - b.at);
  const down: Interval[] = [];
  samples.forEach((s, i) => {
    if (s.ok) return;
    const next = samples[i + 1]?.at ?? s.at + probe.intervalSeconds;
    down.push({ from: s.at, to: Math.min(next, until) });
  });
  return normalize(down.map((d) => ({ from: round(d.from), to: round(d.to) })));
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export type Verdict = "ok" | "differs" | "went down";

export interface FidelityRow {
  readonly probe: string;
  readonly service: string;
  /** Down intervals and seconds with the shortest boot times; `latest*` with the longest. */
  readonly predicted: {
    readonly down: readonly Interval[];
    readonly seconds: number;
    readonly latestDown: readonly Interval[];
    readonly latestSeconds: number;
  };
  readonly measured: { readonly down: readonly Interval[]; readonly seconds: number; readonly samples: number; readonly failed: number };
  /** Measured minus the nearest end of the predicted range (0 inside it). */
  readonly differenceSeconds: number;
  readonly toleranceSeconds: number;
  readonly verdict: Verdict;
}

/** The tolerance for a predicted downtime: the larger of the absolute and the relative one. */
export function toleranceFor(predictedSeconds: number, tolerance: Tolerance): number {
  return round(Math.max(tolerance.seconds, tolerance.fraction * predictedSeconds));
}

/**
 * One row per probe. The prediction is a range of downtimes (shortest to longest boot times);
 * `differs` when the measured downtime lies further outside it than the tolerance of the end
 * it is nearest to; `went down` when the service was predicted to stay up and the probe saw
 * an outage of at least MIN_OUTAGE_SECONDS.
 */
export function compare(predictions: readonly ServicePrediction[], probes: readonly ProbeSamples[], tolerance: Tolerance, until = Infinity): FidelityRow[] {
  const byService = new Map(predictions.map((p) => [p.service, p]));
  return probes.map((probe) => {
    const prediction = byService.get(probe.service);
    const predicted = prediction?.down ?? [];
    const predictedSeconds = total(predicted);
    const latest = prediction?.latest.down ?? predicted;
    const latestSeconds = Math.max(predictedSeconds, total(latest));
    const measured = measuredIntervals(probe, until);
    const measuredSeconds = total(measured);
    const nearest = Math.min(Math.max(measuredSeconds, predictedSeconds), latestSeconds);
    const difference = round(measuredSeconds - nearest);
    const allowed = toleranceFor(nearest, tolerance);
    const wentDown = latestSeconds === 0 && measured.some((m) => m.to - m.from >= MIN_OUTAGE_SECONDS - 1e-9);
    const verdict: Verdict = wentDown ? "went down" : Math.abs(difference) > allowed ? "differs" : "ok";
    const counted = probe.samples.filter((s) => s.at < until);
    return {
      probe: probe.probe,
      service: probe.service,
      predicted: { down: predicted, seconds: predictedSeconds, latestDown: latest, latestSeconds },
      measured: { down: measured, seconds: measuredSeconds, samples: counted.length, failed: counted.filter((s) => !s.ok).length },
      differenceSeconds: difference,
      toleranceSeconds: allowed,
      verdict,
    };
  });
}

/**
 * `12.0–19.5 s, 30.0–31.0 s` (or `-`); with `latest` (the same intervals with the longest
 * boot times) an end that differs shows both: `12.0–26.1…28.6 s`.
 */
export function describeIntervals(intervals: readonly Interval[], latest?: readonly Interval[]): string {
  if (intervals.length === 0) return "-";
  return intervals
    .map((i, n) => {
      const late = latest?.[n]?.to;
      const end = late !== undefined && late.toFixed(1) !== i.to.toFixed(1) ? `${i.to.toFixed(1)}…${late.toFixed(1)}` : i.to.toFixed(1);
      return `${i.from.toFixed(1)}–${end} s`;
    })
    .join(", ");
}
