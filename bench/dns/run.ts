/**
 * dns vs NSD answering the same zone (the local stack's forward zone, rendered as a zone
 * file for NSD), queried by dnsperf over UDP with the same query list (names and types of
 * the zone, plus NXDOMAIN and NODATA questions). RRL is off on both (one client address).
 * Besides the rates (noisy on a shared machine) it prints each server's CPU time per answered
 * query (its process tree's user+system time over dnsperf's run), the less load-sensitive figure.
 * Usage: npx tsx bench/dns/run.ts [seconds] [--profile]   (needs: bash bench/web/setup.sh)
 * --profile writes a V8 CPU profile of our server and prints where it is.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DnsRecord } from "../../contracts/dns";
import { recordResult } from "../summary";
import { printHeader, printRow, requireTools, start, startRole, treeCpuSeconds, type Result } from "../web/harness";
import { dnsBenchInputs } from "./inputs";

const PROFILE = process.argv.includes("--profile");
const SECONDS = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 10);
const OURS = 40353;
const NSD = 40354;

function rdata(r: DnsRecord): string {
  switch (r.type) {
    case "SOA":
      return `${r.data.mname}. ${r.data.rname}. ${r.data.serial} ${r.data.refresh} ${r.data.retry} ${r.data.expire} ${r.data.minimum}`;
    case "MX":
      return `${r.data.preference} ${r.data.exchange}.`;
    case "SRV":
      return `${r.data.priority} ${r.data.weight} ${r.data.port} ${r.data.target}.`;
    case "TXT":
      return r.data.map((s) => JSON.stringify(s)).join(" ");
    case "A":
    case "AAAA":
      return r.data;
    default:
      return `${r.data}.`;
  }
}

/** dnsperf 2.10 has no latency histogram: `-v` prints every answer with its latency, p99 comes from those. */
interface DnsperfResult extends Result {
  /** CPU time of the server per answered query, in microseconds. */
  readonly cpuUs: number;
}

function dnsperf(port: number, queries: string, serverPid: number): DnsperfResult {
  const cpuBefore = treeCpuSeconds(serverPid);
  const out = execFileSync("dnsperf", ["-s", "127.0.0.1", "-p", String(port), "-d", queries, "-l", String(SECONDS), "-c", "4", "-Q", "200000", "-v"], {
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
  });
  const cpu = treeCpuSeconds(serverPid) - cpuBefore;
  const completed = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const lost = /Queries lost:\s+(\d+)/.exec(out)?.[1];
  if (lost && lost !== "0") console.warn(`  note: ${lost} queries lost on port ${port}`);
  const latencies = [...out.matchAll(/^> \S+ .* ([\d.]+)$/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
  const p99 = latencies.length ? latencies[Math.floor(latencies.length * 0.99)]! * 1000 : NaN;
  return { rps: qps, p99ms: p99, cpuUs: (cpu / completed) * 1e6 };
}

async function main(): Promise<void> {
  requireTools(["dnsperf", "nsd"]);
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-dns-"));
  const { zone, configPath, queriesPath, questions } = dnsBenchInputs(dir);
  writeFileSync(join(dir, "zone"), `$ORIGIN ${zone.origin}.\n` + zone.records.map((r) => `${r.name}. ${r.ttl} IN ${r.type} ${rdata(r)}`).join("\n") + "\n");
  writeFileSync(
    join(dir, "nsd.conf"),
    `server:\n  ip-address: 127.0.0.1@${NSD}\n  server-count: 1\n  username: ""\n  zonesdir: "${dir}"\n  database: ""\n  pidfile: "${dir}/nsd.pid"\n  xfrdfile: "${dir}/xfrd.state"\n  zonelistfile: "${dir}/zone.list"\n  logfile: "${dir}/nsd.log"\n  rrl-ratelimit: 0\nremote-control:\n  control-enable: no\nzone:\n  name: ${zone.origin}\n  zonefile: "${dir}/zone"\n`,
  );

  const profileDir = join(dir, "profile");
  mkdirSync(profileDir);
  const flags = PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const oursChild = await startRole("dns", { SP_CONFIG: configPath, SP_DNS_PORT: String(OURS), SP_MGMT_PORT: "40359" }, flags);
  const nsdChild = start("nsd", ["-d", "-c", join(dir, "nsd.conf")]);
  await new Promise((r) => setTimeout(r, 3000));
  execFileSync("dig", ["-p", String(NSD), "@127.0.0.1", "+short", zone.origin, "SOA"], { stdio: "inherit" });
  execFileSync("dig", ["-p", String(OURS), "@127.0.0.1", "+short", zone.origin, "SOA"], { stdio: "inherit" });

  console.log(`dns vs NSD (1 server process), ${SECONDS} s, dnsperf -c 4 over UDP, ${questions} distinct questions`);
  printHeader("dns", "nsd");
  const ours = dnsperf(OURS, queriesPath, oursChild.pid!);
  const ref = dnsperf(NSD, queriesPath, nsdChild.pid!);
  printRow("zone of the local stack", ours, ref, "q/s");
  console.log(`CPU per answered query: dns ${ours.cpuUs.toFixed(1)} µs, nsd ${ref.cpuUs.toFixed(1)} µs (nsd ÷ dns ${(ref.cpuUs / ours.cpuUs).toFixed(2)}×)`);
  if (PROFILE) {
    // SIGTERM: the role drains and exits normally, which is when V8 writes the profile.
    oursChild.kill("SIGTERM");
    await new Promise((resolve) => oursChild.once("exit", resolve));
    console.log(
      `CPU profile of our server: ${readdirSync(profileDir)
        .map((f) => join(profileDir, f))
        .join(" ")}`,
    );
  }
  recordResult({ bench: "dns", figure: "dns ÷ NSD queries/s over UDP", value: ours.rps / ref.rps, unit: "×", target: { op: ">=", value: 0.8 } });
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
