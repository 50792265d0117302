/**
 * `npm run bench -- fuzz [count] [protocol...]`: runs every `bench/fuzz/<protocol>.fuzz.ts`
 * (or the named ones) as a child process and prints one table. The unit suite fuzzes each
 * protocol with 10,000 inputs; this runner is where the long runs (100,000 and more) live.
 *
 * Contract for a fuzzer: `tsx bench/fuzz/<protocol>.fuzz.ts <count>` starts the real server
 * in a child process of its own, feeds it `count` generated inputs over real sockets, and
 * prints, as its last stdout line, one JSON object:
 *   { "protocol": string, "inputs": number, "crashes": number, "hangs": number,
 *     "rssMaxMiB": number, "rssBoundMiB": number, "seconds": number }
 * and exits 0 only when crashes = hangs = 0 and rssMaxMiB <= rssBoundMiB.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { recordResult } from "../summary";

interface FuzzSummary {
  readonly protocol: string;
  readonly inputs: number;
  readonly crashes: number;
  readonly hangs: number;
  readonly rssMaxMiB: number;
  readonly rssBoundMiB: number;
  readonly seconds: number;
}

function main(): number {
  const args = process.argv.slice(2);
  const count = args[0] && /^\d+$/.test(args[0]) ? Number(args.shift()) : 100_000;
  const available = readdirSync(__dirname)
    .filter((f) => f.endsWith(".fuzz.ts"))
    .map((f) => f.slice(0, -".fuzz.ts".length))
    .sort();
  const unknown = args.filter((a) => !available.includes(a));
  if (unknown.length > 0) {
    console.error(`fuzz: no fuzzer named ${unknown.join(", ")}; known: ${available.join(", ")}`);
    return 2;
  }
  const chosen = args.length > 0 ? args : available;
  const tsx = join(__dirname, "..", "..", "node_modules", "tsx", "dist", "cli.mjs");
  console.log(
    `fuzz: ${count} inputs per protocol; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const rows: (FuzzSummary & { ok: boolean })[] = [];
  for (const name of chosen) {
    console.log(`fuzz: ${name} …`);
    const run = spawnSync(process.execPath, [tsx, join(__dirname, `${name}.fuzz.ts`), String(count)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 64 << 20,
    });
    const last = run.stdout.trim().split("\n").pop() ?? "";
    try {
      const summary = JSON.parse(last) as FuzzSummary;
      rows.push({ ...summary, ok: run.status === 0 });
    } catch {
      console.error(`fuzz: ${name} printed no summary (exit ${run.status ?? run.signal})`);
      rows.push({ protocol: name, inputs: 0, crashes: NaN, hangs: NaN, rssMaxMiB: NaN, rssBoundMiB: NaN, seconds: NaN, ok: false });
    }
  }
  console.log("\n| protocol | inputs | crashes | hangs | RSS max MiB | bound MiB | s | verdict |\n|---|---:|---:|---:|---:|---:|---:|---|");
  for (const r of rows) {
    console.log(
      `| ${r.protocol} | ${r.inputs} | ${r.crashes} | ${r.hangs} | ${r.rssMaxMiB.toFixed(0)} | ${r.rssBoundMiB} | ${r.seconds.toFixed(0)} | ${r.ok ? "pass" : "FAIL"} |`,
    );
  }
  for (const r of rows) {
    recordResult({
      bench: "fuzz",
      figure: `${r.protocol}: crashes + hangs in ${r.inputs} inputs`,
      value: r.crashes + r.hangs,
      unit: "",
      target: { op: "<=", value: 0 },
    });
    recordResult({
      bench: "fuzz",
      figure: `${r.protocol}: peak RSS against its bound`,
      value: r.rssMaxMiB,
      unit: "MiB",
      target: { op: "<=", value: r.rssBoundMiB },
    });
  }
  console.log(
    `load after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  return rows.every((r) => r.ok) ? 0 : 1;
}

process.exit(main());
