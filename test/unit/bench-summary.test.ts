/**
 * `npm run bench -- all`'s summary (bench/summary.ts): figures a benchmark records reach the
 * runner's file only when the runner asks, each is judged against its own target, and a
 * benchmark that broke or recorded nothing is a row of its own rather than a silent gap.
 * One real benchmark (the planner alone, on a small generated datacenter) records its
 * figures through the same environment the runner sets.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { meets, readResults, recordResult, RESULTS_ENV, summaryTable, type BenchResult } from "../../bench/summary";

const saved = process.env[RESULTS_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[RESULTS_ENV];
  else process.env[RESULTS_ENV] = saved;
});

const row = (over: Partial<BenchResult>): BenchResult => ({
  bench: "x",
  figure: "f",
  value: 1,
  unit: "×",
  target: { op: ">=", value: 0.8 },
  load: "1.00",
  ...over,
});

describe("bench summary", () => {
  it("records figures only when a runner names the file, and reads them back in order", () => {
    const file = join(mkdtempSync(join(tmpdir(), "sp-bench-summary-")), "results.jsonl");
    delete process.env[RESULTS_ENV];
    recordResult({ bench: "web", figure: "alone", value: 1, unit: "×" });
    expect(readResults(file)).toEqual([]);
    process.env[RESULTS_ENV] = file;
    recordResult({ bench: "web", figure: "1 KiB", value: 0.93, unit: "×", target: { op: ">=", value: 0.9 } });
    recordResult({ bench: "game", figure: "2000 players", value: 31.5, unit: "ms", target: { op: "<=", value: 25 }, load: "3.10" });
    const back = readResults(file);
    expect(back.map((r) => [r.bench, r.figure, r.value])).toEqual([
      ["web", "1 KiB", 0.93],
      ["game", "2000 players", 31.5],
    ]);
    expect(back[1]!.load).toBe("3.10");
    expect(back[0]!.load).toMatch(/^\d+\.\d\d$/);
  });

  it("judges each figure by its own direction; a broken figure never meets; no target is never judged", () => {
    expect(meets(row({ value: 0.8 }))).toBe(true);
    expect(meets(row({ value: 0.79 }))).toBe(false);
    expect(meets(row({ value: 24.9, target: { op: "<=", value: 25 } }))).toBe(true);
    expect(meets(row({ value: 25.1, target: { op: "<=", value: 25 } }))).toBe(false);
    expect(meets(row({ value: NaN }))).toBe(false);
    expect(meets(row({ target: undefined }))).toBeUndefined();
  });

  it("the table counts missed targets and names benchmarks that broke or recorded nothing", () => {
    const results = [
      row({ bench: "web", figure: "1 KiB", value: 0.95, target: { op: ">=", value: 0.9 } }),
      row({ bench: "proxy", figure: "median", value: 0.52, target: { op: ">=", value: 0.7 } }),
      row({ bench: "mail", figure: "msg/s", value: 1.3, target: undefined }),
    ];
    const runs = [
      { bench: "web", status: 0, seconds: 20 },
      { bench: "proxy", status: 0, seconds: 30 },
      { bench: "mail", status: 0, seconds: 40 },
      { bench: "dns", status: 2, seconds: 1 },
      { bench: "game", status: 0, seconds: 60 },
    ];
    const { text, judged, missed, broken } = summaryTable(results, runs);
    expect({ judged, missed, broken }).toEqual({ judged: 2, missed: 1, broken: 2 });
    const lines = text.split("\n");
    expect(lines.find((l) => l.startsWith("| web |"))).toContain("| met |");
    expect(lines.find((l) => l.startsWith("| proxy |"))).toContain("| 0.52× | ≥ 0.70× |");
    expect(lines.find((l) => l.startsWith("| proxy |"))).toContain("MISSED");
    expect(lines.find((l) => l.startsWith("| mail |"))).toContain("no target");
    expect(lines.find((l) => l.startsWith("| dns |"))).toContain("exit 2");
    expect(lines.find((l) => l.startsWith("| game |"))).toContain("recorded no figure");
  });

  it("a real benchmark records its figures through the runner's environment", () => {
    const file = join(mkdtempSync(join(tmpdir(), "sp-bench-summary-")), "results.jsonl");
    const tsx = join(process.cwd(), "node_modules", "tsx", "dist", "cli.mjs");
    execFileSync(process.execPath, [tsx, "bench/program/run.ts", "--sizes", "", "--planner-hosts", "100", "--planner-repeat", "1"], {
      env: { ...process.env, [RESULTS_ENV]: file },
      stdio: "ignore",
      timeout: 120_000,
    });
    const figures = readResults(file);
    expect(figures.map((r) => r.figure)).toEqual(["placement, 100 hosts, median wall", "whole plan, 100 hosts, median wall"]);
    for (const r of figures) {
      expect(r.bench).toBe("program");
      expect(r.value).toBeGreaterThan(0);
      expect(r.target?.op).toBe("<=");
    }
  });
});
