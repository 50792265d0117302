/**
 * `npm run bench -- fuzz [count] [protocol...] [--evidence <dir>] [--stack <stack>]`: runs
 * every `bench/fuzz/<protocol>.fuzz.ts` (or the named ones) as a child process and prints one
 * table. The unit suite fuzzes each protocol with 10,000 inputs; this runner is where the long
 * runs (100,000 and more) live. `--evidence` writes the run's record for the compliance report
 * (A.8.29; ./evidence.ts), judged against the roles of `--stack` (default local).
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
import { parseArgs } from "node:util";
import { loadSpec } from "../../cli/stack";
import { stackFileHash, writeEvidence } from "../../components/compliance/evidence";
import { recordResult } from "../summary";
import { fuzzEvidence, type FuzzRun } from "./evidence";

/** What a fuzzer prints as its last line (the contract above). */
type FuzzSummary = Omit<FuzzRun, "ok">;

function main(): number {
  const { values, positionals: args } = parseArgs({
    allowPositionals: true,
    options: { evidence: { type: "string" }, stack: { type: "string", default: "local" } },
  });
  // Read the stack first: a bad --stack fails before an hour of fuzzing, not after.
  const stack = values.evidence ? loadSpec(values.stack!, process.cwd()) : undefined;
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
  const rows: FuzzRun[] = [];
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
  if (stack && values.evidence) {
    const record = fuzzEvidence(
      rows,
      { stack: stack.file.stack, stackHash: stackFileHash(stack.file.path), roles: stack.spec.services.map((s) => s.role) },
      new Date(),
    );
    console.log(`fuzz: evidence (${record.result}) written to ${writeEvidence(values.evidence, record)}: ${record.summary}`);
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}

process.exit(main());
