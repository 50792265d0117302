/**
 * The figures `npm run bench -- all` sums up. Each benchmark keeps printing its own
 * side-by-side table; beside it, it calls `recordResult` once per headline figure (a ratio
 * against the reference server, a time, a count), with its target where the project set one. When the runner asks for them
 * (`SP_BENCH_RESULTS` names a file) the figures are appended there as JSON lines, one per
 * figure; run on its own, a benchmark records nothing. The runner then reads them back and
 * prints one table of figures against their targets (`summaryTable`).
 *
 * Also the small helpers every benchmark wants the same way: the load average as printed
 * beside each result, and the median of repeated runs.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";

export const RESULTS_ENV = "SP_BENCH_RESULTS";

export interface Target {
  /** ">=": higher is better (ratios, rates); "<=": lower is better (times, counts of failures). */
  readonly op: ">=" | "<=";
  readonly value: number;
}

export interface BenchResult {
  /** The benchmark's name in the runner (`proxy`, `file`, …). */
  readonly bench: string;
  /** What was measured, in words a reader of the table understands without the README. */
  readonly figure: string;
  readonly value: number;
  /** "×" for a ratio ours ÷ reference; otherwise the unit of `value` (ms, s, years/s, …). */
  readonly unit: string;
  /** None where no target was set (the figure is shown, never judged). */
  readonly target?: Target;
  /** The 1-minute load average when the figure was taken. */
  readonly load: string;
}

/** The load averages (1, 5, 15 minutes) as one string, e.g. "2.31 1.90 1.75". */
export function loadNow(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

/** The median (the upper one of an even count) of `values`; NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

/** Wall and CPU ms (user + system of the process, so GC threads count) of one call. */
export function timed(fn: () => unknown): { ms: number; cpuMs: number } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  fn();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

/** Records one figure for the runner's summary, if a runner asked for them. */
export function recordResult(result: Omit<BenchResult, "load"> & { readonly load?: string }): void {
  const file = process.env[RESULTS_ENV];
  if (!file) return;
  const row: BenchResult = { ...result, load: result.load ?? loadNow().split(" ")[0]! };
  appendFileSync(file, JSON.stringify(row) + "\n");
}

/** The figures recorded in `file` (none when it does not exist). */
export function readResults(file: string): BenchResult[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as BenchResult);
}

/** Whether a figure meets its target; a figure that is not a number (the run broke) never does; undefined: no target. */
export function meets(result: Pick<BenchResult, "value" | "target">): boolean | undefined {
  if (!result.target) return undefined;
  if (!Number.isFinite(result.value)) return false;
  return result.target.op === ">=" ? result.value >= result.target.value : result.value <= result.target.value;
}

/** How one benchmark's run ended, for the summary. */
export interface BenchRun {
  readonly bench: string;
  /** The benchmark's exit status; null when it was killed or could not start. */
  readonly status: number | null;
  readonly seconds: number;
}

function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "—";
  if (unit === "") return Number.isInteger(value) ? String(value) : value.toFixed(2);
  const digits = unit === "×" ? 2 : Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return unit === "×" ? `${value.toFixed(digits)}×` : `${value.toFixed(digits)} ${unit}`;
}

/**
 * One Markdown table: every recorded figure against its target, then a line for each
 * benchmark that ended badly or recorded nothing (so a broken benchmark is never a silent
 * gap in the table). Returns the table and how many figures missed their target.
 */
export function summaryTable(results: readonly BenchResult[], runs: readonly BenchRun[]): { text: string; judged: number; missed: number; broken: number } {
  const lines = ["| bench | figure | measured | target | load | verdict |", "|---|---|---:|---:|---:|---|"];
  let missed = 0;
  for (const r of results) {
    const ok = meets(r);
    if (ok === false) missed++;
    const target = r.target ? `${r.target.op === ">=" ? "≥" : "≤"} ${formatValue(r.target.value, r.unit)}` : "—";
    lines.push(
      `| ${r.bench} | ${r.figure} | ${formatValue(r.value, r.unit)} | ${target} | ${r.load} | ${ok === undefined ? "no target" : ok ? "met" : "MISSED"} |`,
    );
  }
  const broken = runs.filter((run) => run.status !== 0 || !results.some((r) => r.bench === run.bench));
  for (const run of broken) {
    const why = run.status === 0 ? "recorded no figure" : `exit ${run.status ?? "killed"} after ${run.seconds.toFixed(0)} s`;
    lines.push(`| ${run.bench} | — | — | — | — | ${why} |`);
  }
  return { text: lines.join("\n"), judged: results.filter((r) => r.target).length, missed, broken: broken.length };
}
