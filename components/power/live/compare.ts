/**
 * Prediction against measurement: the probes' samples become measured down intervals, and
 * each probe's measured downtime is held against its service's predicted downtime with a
 * tolerance. Pure: no I/O, no clock.
 */
import { normalize, total, type Interval, type ServicePrediction } from "./predict";

/** One probe attempt: started `at` real seconds after the start of the run; ok when the service answered. */
export interface Sample {
  readonly at: number;
  readonly ok: boolean;
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
 * Failed samples as down intervals: a failed sample holds until the next sample starts (the
 * next observation; the last one holds for one interval), and failed neighbours merge.
 * Samples at or after `until` are ignored.
 */
export function measuredIntervals(probe: ProbeSamples, until = Infinity): Interval[] {
  const samples = [...probe.samples].filter((s) => s.at < until).sort((a, b) => a.at - b.at);
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
  readonly predicted: { readonly down: readonly Interval[]; readonly seconds: number };
  readonly measured: { readonly down: readonly Interval[]; readonly seconds: number; readonly samples: number; readonly failed: number };
  /** Measured minus predicted downtime. */
  readonly differenceSeconds: number;
  readonly toleranceSeconds: number;
  readonly verdict: Verdict;
}

/** The tolerance for a predicted downtime: the larger of the absolute and the relative one. */
export function toleranceFor(predictedSeconds: number, tolerance: Tolerance): number {
  return round(Math.max(tolerance.seconds, tolerance.fraction * predictedSeconds));
}

/**
 * One row per probe. `differs` when the downtimes differ by more than the tolerance; `went
 * down` when the service was predicted to stay up and the probe saw an outage of at least
 * MIN_OUTAGE_SECONDS.
 */
export function compare(predictions: readonly ServicePrediction[], probes: readonly ProbeSamples[], tolerance: Tolerance, until = Infinity): FidelityRow[] {
  const byService = new Map(predictions.map((p) => [p.service, p]));
  return probes.map((probe) => {
    const prediction = byService.get(probe.service);
    const predicted = prediction?.down ?? [];
    const predictedSeconds = total(predicted);
    const measured = measuredIntervals(probe, until);
    const measuredSeconds = total(measured);
    const difference = round(measuredSeconds - predictedSeconds);
    const allowed = toleranceFor(predictedSeconds, tolerance);
    const wentDown = predictedSeconds === 0 && measured.some((m) => m.to - m.from >= MIN_OUTAGE_SECONDS - 1e-9);
    const verdict: Verdict = wentDown ? "went down" : Math.abs(difference) > allowed ? "differs" : "ok";
    const counted = probe.samples.filter((s) => s.at < until);
    return {
      probe: probe.probe,
      service: probe.service,
      predicted: { down: predicted, seconds: predictedSeconds },
      measured: { down: measured, seconds: measuredSeconds, samples: counted.length, failed: counted.filter((s) => !s.ok).length },
      differenceSeconds: difference,
      toleranceSeconds: allowed,
      verdict,
    };
  });
}

/** `12.0–19.5 s, 30.0–31.0 s` (or `-`) and the total. */
export function describeIntervals(intervals: readonly Interval[]): string {
  if (intervals.length === 0) return "-";
  return intervals.map((i) => `${i.from.toFixed(1)}–${i.to.toFixed(1)} s`).join(", ");
}
