/**
 * Same-time A/B of two builds of our dns server: each bundle serves the bench's zone on its
 * own port and is loaded by its own `dnsperf -c 4` over UDP at the same time, so both share
 * whatever else the machine is doing; per round it prints each one's rate, lost queries and
 * CPU time per answered query (user and system, from /proc/<pid>/stat), the figure that
 * moves least on a shared machine. Usage:
 *   npx tsx images/build.ts dns && cp images/dns/dist/main.mjs /tmp/after.mjs   (and the same for "before")
 *   npx tsx bench/dns/ab.ts /tmp/before.mjs /tmp/after.mjs [seconds=5] [rounds=4] [--rrl]
 * --rrl turns RRL on (1,000,000 answers/s: the decision is made, nothing is limited).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { NODE, requireTools, start } from "../web/harness";
import { dnsBenchInputs } from "./inputs";

const run = promisify(execFile);
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const [before, after] = args;
const SECONDS = Number(args[2] ?? 5);
const ROUNDS = Number(args[3] ?? 4);
const PORT = 40450;

/** User and system CPU seconds of one process (fields 14 and 15 of /proc/<pid>/stat; USER_HZ 100). */
function cpu(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

async function main(): Promise<void> {
  if (!before || !after) throw new Error("usage: bench/dns/ab.ts <before.mjs> <after.mjs> [seconds] [rounds] [--rrl]");
  requireTools(["dnsperf"]);
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-dns-ab-"));
  const { configPath, queriesPath } = dnsBenchInputs(dir, process.argv.includes("--rrl") ? 1_000_000 : 0);
  const bundles = [before, after];
  const servers = bundles.map((bundle, i) =>
    start(NODE, [bundle], {
      SP_CONFIG: configPath,
      SP_DNS_PORT: String(PORT + i),
      SP_MGMT_PORT: String(PORT + 10 + i),
      SP_LISTEN: "127.0.0.1",
      SP_LOG_LEVEL: "warn",
    }),
  );
  await new Promise((r) => setTimeout(r, 3000));
  console.log(`same-time A/B, ${SECONDS} s rounds, dnsperf -c 4 over UDP each; CPU per answered query (user + system)`);
  for (let round = 1; round <= ROUNDS; round++) {
    const at = servers.map((s) => cpu(s.pid!));
    const outputs = await Promise.all(
      bundles.map((_, i) =>
        run("dnsperf", ["-s", "127.0.0.1", "-p", String(PORT + i), "-d", queriesPath, "-l", String(SECONDS), "-c", "4", "-Q", "200000"], {
          maxBuffer: 1 << 24,
        }),
      ),
    );
    const cells = outputs.map(({ stdout }, i) => {
      const now = cpu(servers[i]!.pid!);
      const answered = Number(/Queries completed:\s+(\d+)/.exec(stdout)?.[1] ?? NaN);
      const rate = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
      const lost = /Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? "?";
      const us = (seconds: number) => ((seconds / answered) * 1e6).toFixed(2);
      const user = now.user - at[i]!.user;
      const system = now.system - at[i]!.system;
      return `${basename(bundles[i]!)}: ${rate.toFixed(0)} q/s, lost ${lost}, ${us(user + system)} µs (user ${us(user)}, sys ${us(system)})`;
    });
    const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    console.log(`round ${round}, load ${load} | ${cells.join(" | ")}`);
  }
  for (const s of servers) s.kill("SIGTERM");
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
