/**
 * The bench runner (`npm run bench -- <name> [args...]`): runs one registered benchmark as
 * a child process with this Node and tsx, passing the remaining arguments on. Without a
 * name it lists them. A benchmark with a set-up script (the reference servers and load tools
 * it compares against, from Debian) has it run first; set-ups are idempotent. Each benchmark
 * prints its own side-by-side table; see its README.
 *
 *   npm run bench                    list
 *   npm run bench -- mail 2000 8     SMTP, ours vs Postfix
 *   npm run bench -- file --profile  SFTP, ours vs OpenSSH, with a CPU profile of ours
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

interface Bench {
  /** Script, relative to bench/. */
  readonly script: string;
  readonly what: string;
  /** Run before the benchmark (installs reference servers and load tools; idempotent), if any. */
  readonly setup?: string;
}

const BENCHES: Readonly<Record<string, Bench>> = {
  program: { script: "program/run.ts", what: "Pulumi program under mocks vs a bare program; planner on 10,000 hosts" },
  power: { script: "power/bench.ts", what: "power model: Monte-Carlo years per second, N-1 time" },
  web: { script: "web/run.ts", what: "web role vs nginx (wrk)", setup: "bench/web/setup.sh" },
  proxy: { script: "proxy/run.ts", what: "proxy role vs nginx (wrk)", setup: "bench/web/setup.sh" },
  dns: { script: "dns/run.ts", what: "dns role vs NSD (dnsperf)", setup: "bench/web/setup.sh" },
  game: { script: "game/run.ts", what: "game server: tick p50/p99 and bandwidth per player" },
  db: { script: "db/pgbench.ts", what: "pgbench TPS, db role vs plain PostgreSQL" },
  "db-failover": {
    script: "db/failover.ts",
    what: "HA db: docker kill of the primary N times under steady writes, failover p50/max and lost commits vs a single PostgreSQL restart (Docker; e2e lock)",
  },
  mail: { script: "mail/smtp.ts", what: "SMTP msg/s accepted and stored, mail role vs Postfix (smtp-source)", setup: "bench/mail/setup.sh" },
  fuzz: { script: "fuzz/run.ts", what: "every protocol's fuzzer (100,000 inputs each by default): crashes, hangs, peak RSS" },
  file: { script: "file/sftp.ts", what: "SFTP MB/s and files/s, file role vs OpenSSH sshd (sftp client)", setup: "bench/file/setup.sh" },
  chaos: {
    script: "chaos/run.ts",
    what: "HTTP error window through the proxy when a web replica's host loses power; the db's return (Docker; run under the e2e lock)",
  },
  "chaos-fidelity": {
    script: "chaos/fidelity.ts",
    what: "serverpark chaos: issue 14's five scenarios N times, verdicts at the default tolerance (Docker; e2e lock)",
  },
};

function main(): number {
  const [name, ...args] = process.argv.slice(2);
  if (!name || name === "--list") {
    console.log("usage: npm run bench -- <name> [args...]\n");
    for (const [key, b] of Object.entries(BENCHES)) console.log(`  ${key.padEnd(15)} ${b.what}${b.setup ? `  (set-up: ${b.setup})` : ""}`);
    return 0;
  }
  const bench = BENCHES[name];
  if (!bench) {
    console.error(`no benchmark named ${name}; known: ${Object.keys(BENCHES).join(", ")}`);
    return 2;
  }
  const root = join(__dirname, "..");
  if (bench.setup) {
    const setup = spawnSync("bash", [join(root, bench.setup)], { cwd: root, stdio: "inherit" });
    if (setup.status !== 0) {
      console.error(`bench ${name}: set-up ${bench.setup} failed (exit ${setup.status ?? setup.signal}); nothing was measured`);
      return 1;
    }
  }
  const tsx = join(root, "node_modules", "tsx", "dist", "cli.mjs");
  const result = spawnSync(process.execPath, [tsx, join(__dirname, bench.script), ...args], { cwd: root, stdio: "inherit" });
  return result.status ?? 1;
}

process.exit(main());
