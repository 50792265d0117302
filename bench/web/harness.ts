/**
 * Shared by the web, proxy and dns benchmarks: start our role from its built bundle (the
 * same file the image runs) and a reference server as child processes, wait for their
 * ports, run wrk and parse its numbers, print the side-by-side table with the ratio.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildRole } from "../../images/build";

export const ROOT = join(__dirname, "..", "..");
export const NODE = join(ROOT, "node_modules", ".bin", "node");

export function requireTools(tools: readonly string[]): void {
  const missing = tools.filter((t) => {
    try {
      execFileSync("sh", ["-c", `command -v ${t}`]);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    console.error(`missing: ${missing.join(", ")} — run bash bench/web/setup.sh (installs nginx, wrk, dnsperf, nsd from Debian)`);
    process.exit(2);
  }
}

const children: ChildProcess[] = [];
// SIGTERM, not SIGKILL: nginx's master then stops its workers too (killed hard, they are orphaned).
process.on("exit", () => children.forEach((c) => c.kill("SIGTERM")));

export function start(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
  children.push(child);
  return child;
}

/** `nodeFlags` go before the bundle, e.g. `--cpu-prof` (the profile is written when the role exits on SIGTERM). */
export async function startRole(role: "web" | "proxy" | "dns", env: Record<string, string>, nodeFlags: readonly string[] = []): Promise<ChildProcess> {
  await buildRole(role);
  return start(NODE, [...nodeFlags, join(ROOT, "images", role, "dist", "main.mjs")], { SP_LISTEN: "127.0.0.1", SP_LOG_LEVEL: "warn", ...env });
}

/**
 * CPU seconds (user + system) used so far by a process and every process below it (NSD and
 * nginx answer from forked children), from /proc: less sensitive to a busy machine than rates.
 */
export function treeCpuSeconds(pid: number): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the ")" of the command name: state ppid … utime(14) stime(15), 1-based over the whole line.
      const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ");
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // The process ended while we looked.
    }
  }
  const tree = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [p, s] of stats) if (!tree.has(p) && tree.has(s.ppid)) grew = tree.add(p) !== undefined;
  }
  let ticks = 0;
  for (const p of tree) ticks += stats.get(p)?.ticks ?? 0;
  return ticks / CLOCK_TICKS;
}
/** USER_HZ: 100 on every Linux we run on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

export async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export interface Result {
  readonly rps: number;
  readonly p99ms: number;
  /** Requests completed (wrk only). */
  readonly requests?: number;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

/** wrk with keep-alive; `host` sets the Host header. */
export function wrk(url: string, host: string, seconds: number, connections = 32): Result {
  const out = execFileSync("wrk", ["-t", "1", "-c", String(connections), "-d", `${seconds}s`, "--latency", "-H", `Host: ${host}`, url], { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? "");
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  // A rate of error answers is no measure of the server: refuse it rather than print a ratio
  // (the proxy bench once compared nginx's pages with our 404s for a whole release).
  if (errors > 0) throw new Error(`${errors} of ${total} responses from ${url} were not 2xx/3xx: the setup is broken, nothing is measured`);
  return { rps, p99ms: p99, requests: total };
}

export function printRow(label: string, ours: Result, reference: Result, unit = "req/s"): string {
  const ratio = ours.rps / reference.rps;
  const line = `| ${label.padEnd(28)} | ${ours.rps.toFixed(0).padStart(8)} ${unit} | ${ours.p99ms.toFixed(2).padStart(7)} ms | ${reference.rps.toFixed(0).padStart(8)} ${unit} | ${reference.p99ms.toFixed(2).padStart(7)} ms | ${ratio.toFixed(2)}× |`;
  console.log(line);
  return line;
}

export function printHeader(ours: string, reference: string): void {
  console.log(`| case                         | ${ours} rate | ${ours} p99 | ${reference} rate | ${reference} p99 | ratio |`);
  console.log("|---|---|---|---|---|---|");
}
