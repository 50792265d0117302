/**
 * The bench runner (`npm run bench -- <name> [args...]`): runs one registered benchmark as
 * a child process with this Node and tsx, passing the remaining arguments on. Without a
 * name it lists them. A benchmark with a set-up script (the reference servers and load tools
 * it compares against, from Debian) has it run first; set-ups are idempotent. Each benchmark
 * prints its own side-by-side table; see its README.
 *
 * `all` runs every benchmark in sequence (those that deploy on the Docker engine under the
 * e2e lock, one datacenter at a time) and ends with one table of every figure against its
 * target (bench/summary.ts). It takes long — about an hour on two cores — and is never part
 * of CI.
 *
 *   npm run bench                    list
 *   npm run bench -- mail 2000 8     SMTP, ours vs Postfix
 *   npm run bench -- file --profile  SFTP, ours vs OpenSSH, with a CPU profile of ours
 *   npm run bench -- all [--only a,b] [--skip a,b] [--json]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadNow, readResults, RESULTS_ENV, summaryTable, type BenchRun } from "./summary";

interface Bench {
  /** Script, relative to bench/. */
  readonly script: string;
  readonly what: string;
  /** Run before the benchmark (installs reference servers and load tools; idempotent), if any. */
  readonly setup?: string;
  /** Deploys on the Docker engine: `all` runs it under the e2e lock. */
  readonly docker?: true;
  /** The arguments `all` passes (the benchmark's defaults otherwise). */
  readonly allArgs?: readonly string[];
}

/** The lock every user of the Docker engine's datacenter takes (the e2e tests take it too). */
const ENGINE_LOCK = "/tmp/serverpark-e2e.lock";

const BENCHES: Readonly<Record<string, Bench>> = {
  program: { script: "program/run.ts", what: "Pulumi program under mocks vs a bare program; planner on 10,000 hosts" },
  power: { script: "power/bench.ts", what: "power model: Monte-Carlo years per second, N-1 time" },
  web: { script: "web/run.ts", what: "web role vs nginx (wrk)", setup: "bench/web/setup.sh" },
  proxy: { script: "proxy/run.ts", what: "proxy role vs nginx (wrk)", setup: "bench/web/setup.sh" },
  dns: { script: "dns/run.ts", what: "dns role vs NSD (dnsperf)", setup: "bench/web/setup.sh" },
  game: { script: "game/run.ts", what: "game server: tick p50/p99 and bandwidth per player", allArgs: ["500", "1000", "2000"] },
  db: { script: "db/pgbench.ts", what: "pgbench TPS, db role vs plain PostgreSQL" },
  "db-failover": {
    script: "db/failover.ts",
    what: "HA db: docker kill of the primary N times under steady writes, failover p50/max and lost commits vs a single PostgreSQL restart (Docker; e2e lock)",
    docker: true,
  },
  mail: { script: "mail/smtp.ts", what: "SMTP msg/s accepted and stored, mail role vs Postfix (smtp-source)", setup: "bench/mail/setup.sh" },
  fuzz: { script: "fuzz/run.ts", what: "every protocol's fuzzer (100,000 inputs each by default): crashes, hangs, peak RSS" },
  file: { script: "file/sftp.ts", what: "SFTP MB/s and files/s, file role vs OpenSSH sshd (sftp client)", setup: "bench/file/setup.sh" },
  chaos: {
    script: "chaos/run.ts",
    what: "HTTP error window through the proxy when a web replica's host loses power; the db's return (Docker; run under the e2e lock)",
    docker: true,
  },
  "chaos-fidelity": {
    script: "chaos/fidelity.ts",
    what: "serverpark chaos: issue 14's five scenarios N times, verdicts at the default tolerance (Docker; e2e lock)",
    docker: true,
  },
};

const ROOT = join(__dirname, "..");

/** Runs one benchmark (its set-up first); returns its exit status (null: killed). */
function runOne(name: string, bench: Bench, args: readonly string[], env: NodeJS.ProcessEnv = process.env, locked = false): number | null {
  if (bench.setup) {
    const setup = spawnSync("bash", [join(ROOT, bench.setup)], { cwd: ROOT, stdio: "inherit", env });
    if (setup.status !== 0) {
      console.error(`bench ${name}: set-up ${bench.setup} failed (exit ${setup.status ?? setup.signal}); nothing was measured`);
      return 1;
    }
  }
  const tsx = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
  const command = [process.execPath, tsx, join(__dirname, bench.script), ...args];
  const [file, ...rest] = locked ? ["flock", ENGINE_LOCK, ...command] : command;
  const result = spawnSync(file!, rest, { cwd: ROOT, stdio: "inherit", env });
  return result.status;
}

/** `all`: every benchmark in turn, then one summary of figures against targets. */
function runAll(argv: readonly string[]): number {
  const { values } = parseArgs({
    args: [...argv],
    options: { only: { type: "string" }, skip: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", default: false } },
  });
  if (values.help) {
    console.log(
      "usage: npm run bench -- all [--only a,b] [--skip a,b] [--json]\n\nRuns every benchmark in sequence and prints one table of figures against their targets.",
    );
    return 0;
  }
  const list = (v: string | undefined) => (v ? v.split(",").map((x) => x.trim()) : undefined);
  const only = list(values.only);
  const skip = list(values.skip) ?? [];
  const unknown = [...(only ?? []), ...skip].filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(`bench all: no benchmark named ${unknown.join(", ")}; known: ${Object.keys(BENCHES).join(", ")}`);
    return 2;
  }
  const chosen = Object.keys(BENCHES).filter((n) => (only ? only.includes(n) : true) && !skip.includes(n));
  const resultsFile = join(mkdtempSync(join(tmpdir(), "sp-bench-all-")), "results.jsonl");
  const env = { ...process.env, [RESULTS_ENV]: resultsFile };
  const startLoad = loadNow();
  const runs: BenchRun[] = [];
  for (const [i, name] of chosen.entries()) {
    const bench = BENCHES[name]!;
    console.log(`\n=== bench all [${i + 1}/${chosen.length}] ${name}: ${bench.what} (load ${loadNow()})`);
    const started = Date.now();
    const status = runOne(name, bench, bench.allArgs ?? [], env, bench.docker === true);
    runs.push({ bench: name, status, seconds: (Date.now() - started) / 1000 });
  }
  const results = readResults(resultsFile);
  const { text, judged, missed, broken } = summaryTable(results, runs);
  if (values.json) console.log(JSON.stringify({ startLoad, endLoad: loadNow(), runs, results }, null, 2));
  else {
    console.log(`\n## bench all: ${results.length} figures from ${runs.length} benchmarks; load ${startLoad} at the start, ${loadNow()} at the end\n`);
    console.log(text);
    console.log(`\n${judged - missed} of ${judged} figures with a target meet it${broken > 0 ? `; ${broken} benchmark(s) broke or recorded nothing` : ""}`);
  }
  // Missed targets are the summary's news, not an error; a benchmark that broke is.
  return broken > 0 ? 1 : 0;
}

function main(): number {
  const [name, ...args] = process.argv.slice(2);
  if (!name || name === "--list") {
    console.log("usage: npm run bench -- <name> [args...]   |   npm run bench -- all [--only a,b] [--skip a,b] [--json]\n");
    for (const [key, b] of Object.entries(BENCHES)) console.log(`  ${key.padEnd(15)} ${b.what}${b.setup ? `  (set-up: ${b.setup})` : ""}`);
    console.log(`  ${"all".padEnd(15)} every benchmark above in turn, then one table of figures against their targets`);
    return 0;
  }
  if (name === "all") return runAll(args);
  const bench = BENCHES[name];
  if (!bench) {
    console.error(`no benchmark named ${name}; known: ${Object.keys(BENCHES).join(", ")}, all`);
    return 2;
  }
  return runOne(name, bench, args) ?? 1;
}

process.exit(main());
