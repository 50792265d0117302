/**
 * proxy vs nginx as reverse proxy, in front of the same upstream (an nginx serving a
 * 1 KiB file), both with keep-alive to the upstream and caching off, one worker each;
 * wrk 1 thread, 32 connections. The two are measured in alternating rounds (the load of
 * this shared machine changes within seconds, so back-to-back 10 s runs compared different
 * machines), and beside req/s each round reports the CPU time (user + system, from
 * /proc/<pid>/stat) the proxy process spent per request, which depends far less on what
 * else runs than the rate does.
 * Usage: npx tsx bench/proxy/run.ts [seconds per round] [rounds] [--before <bundle>] [--profile] [--floor]
 *   (needs: bash bench/web/setup.sh)
 *   --before <bundle>  also runs that build of the proxy (a main.mjs kept from before a change)
 *                      in the same alternating rounds: the before/after pair of one run
 *   --profile          runs our proxy under `node --cpu-prof` and prints where its CPU went
 *                      (profile.ts); the profiler slows it, so read the rates of such a run as such
 *   --floor            also runs the two reference proxies of floor.mts (node:http with undici, and
 *                      with a bare socket) in the same rounds: what the platform costs without us
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NODE, ROOT, printHeader, printRow, requireTools, start, startRole, waitPort, wrk } from "../web/harness";
import { summarize } from "./profile";
import { STANDALONE_CONFIG } from "../../images/runtime/replica";
import { median, recordResult } from "../summary";

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const BEFORE = flag("--before");
const PROFILE = args.includes("--profile");
if (PROFILE) args.splice(args.indexOf("--profile"), 1);
const FLOOR = args.includes("--floor");
if (FLOOR) args.splice(args.indexOf("--floor"), 1);
const SECONDS = Number(args[0] ?? 5);
const ROUNDS = Number(args[1] ?? 3);
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux). */
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** CPU seconds (user, system) a process has used so far. */
function cpuSeconds(pid: number): { user: number; system: number } {
  // Fields after the command name (which may hold spaces, so split after its closing paren).
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { user: Number(fields[11]) / TICKS, system: Number(fields[12]) / TICKS };
}

type Measured = ReturnType<typeof wrk> & { cpuUs: number; userUs: number; systemUs: number };

/** One wrk run with the CPU time `pid` spent on it, per request. */
function measure(url: string, pid: number): Measured {
  const before = cpuSeconds(pid);
  const result = wrk(url, "bench.test", SECONDS);
  const after = cpuSeconds(pid);
  const perRequest = (seconds: number) => (seconds / (result.rps * SECONDS)) * 1e6;
  const userUs = perRequest(after.user - before.user);
  const systemUs = perRequest(after.system - before.system);
  return { ...result, cpuUs: userUs + systemUs, userUs, systemUs };
}

const cpuLine = (m: Measured) => `${m.cpuUs.toFixed(1)} µs (user ${m.userUs.toFixed(1)} + system ${m.systemUs.toFixed(1)})`;

const UPSTREAM = 40280;
const OURS = 40281;
const NGINX = 40282;
const BEFORE_PORT = 40283;
const FLOORS = [
  { mode: "undici", label: "floor: node:http + undici", port: 40284 },
  { mode: "socket", label: "floor: node:http + socket", port: 40285 },
] as const;

async function main(): Promise<void> {
  requireTools(["nginx", "wrk"]);
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-proxy-"));
  const root = join(dir, "site");
  mkdirSync(root);
  writeFileSync(join(root, "small.html"), `<!doctype html><title>bench</title>${"<p>serverpark</p>".repeat(58)}\n`);
  const temp = `client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};`;
  const conf = (name: string, server: string, workers = 1) =>
    writeFileSync(
      join(dir, `${name}.conf`),
      `worker_processes ${workers}; daemon off; pid ${dir}/${name}.pid; error_log ${dir}/${name}.log warn;
events { worker_connections 4096; }
http { include /etc/nginx/mime.types; access_log off; keepalive_requests 100000; ${temp}
${server} }
`,
    );
  // The upstream gets both cores' worth of workers so it is not what limits either proxy.
  conf("upstream", `server { listen 127.0.0.1:${UPSTREAM}; root ${root}; add_header Cache-Control no-store; }`, 2);
  conf(
    "nginx-proxy",
    `upstream pool { server 127.0.0.1:${UPSTREAM}; keepalive 64; }
server { listen 127.0.0.1:${NGINX}; location / { proxy_pass http://pool; proxy_http_version 1.1; proxy_set_header Connection "";
  proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto $scheme; } }`,
  );
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      ...STANDALONE_CONFIG,
      replica: "bench-0",
      settings: { accessLog: false, rateLimit: { requestsPerSecond: 0 } },
      // The route as the program resolves it into the proxy's view (the proxy routes with
      // resolved routes only; `settings.routes` is what the program reads to resolve them).
      routes: [
        {
          hosts: ["*"],
          pathPrefix: "/",
          balance: "round-robin",
          healthCheck: { path: "/small.html", intervalMs: 5000, timeoutMs: 2000, unhealthyAfter: 3, healthyAfter: 2 },
          cache: false,
          upstreams: [{ id: "upstream", host: "127.0.0.1", port: UPSTREAM }],
        },
      ],
    }),
  );
  start("nginx", ["-c", join(dir, "upstream.conf"), "-p", dir]);
  const nginxProxy = start("nginx", ["-c", join(dir, "nginx-proxy.conf"), "-p", dir]);
  const profileDir = join(dir, "profile");
  const ours = await startRole("proxy", {
    SP_CONFIG: join(dir, "config.json"),
    SP_HTTP_PORT: String(OURS),
    SP_HTTPS_PORT: "40288",
    SP_MGMT_PORT: "40289",
    ...(PROFILE ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {}),
  });
  const roleEnv = { SP_CONFIG: join(dir, "config.json"), SP_LISTEN: "127.0.0.1", SP_LOG_LEVEL: "warn" };
  const before: ChildProcess | undefined = BEFORE
    ? start(NODE, [BEFORE], { ...roleEnv, SP_HTTP_PORT: String(BEFORE_PORT), SP_HTTPS_PORT: "40290", SP_MGMT_PORT: "40291" })
    : undefined;
  const floors = (FLOOR ? FLOORS : []).map((f) => ({
    ...f,
    child: start(NODE, [join(ROOT, "bench", "proxy", "floor.mts"), f.mode, String(f.port), String(UPSTREAM)]),
  }));
  await Promise.all([waitPort(UPSTREAM), waitPort(OURS), waitPort(NGINX), ...(before ? [waitPort(BEFORE_PORT)] : []), ...floors.map((f) => waitPort(f.port))]);
  // Warm both up (JIT, connection pools to the upstream).
  wrk(`http://127.0.0.1:${OURS}/small.html`, "bench.test", 3);
  if (before) wrk(`http://127.0.0.1:${BEFORE_PORT}/small.html`, "bench.test", 3);
  wrk(`http://127.0.0.1:${NGINX}/small.html`, "bench.test", 3);
  for (const f of floors) wrk(`http://127.0.0.1:${f.port}/small.html`, "bench.test", 3);

  // nginx's one worker is the master's only child: that is the process doing the proxying.
  const worker = Number(
    execFileSync("pgrep", ["-P", String(nginxProxy.pid)], { encoding: "utf8" })
      .trim()
      .split("\n")[0],
  );

  console.log(`proxy vs nginx reverse proxy, ${ROUNDS} alternating rounds of ${SECONDS} s, wrk -t1 -c32, keep-alive both sides, upstream nginx (2 workers)`);
  printHeader("proxy", "nginx");
  const ratios: number[] = [];
  const cpu: { ours: Measured; ref: Measured; before?: Measured; floors: Measured[] }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
    const old = before ? measure(`http://127.0.0.1:${BEFORE_PORT}/small.html`, before.pid!) : undefined;
    const a = measure(`http://127.0.0.1:${OURS}/small.html`, ours.pid!);
    const floored = floors.map((f) => measure(`http://127.0.0.1:${f.port}/small.html`, f.child.pid!));
    const b = measure(`http://127.0.0.1:${NGINX}/small.html`, worker);
    if (old) printRow(`round ${round} before (load ${load})`, old, b);
    printRow(`round ${round} (load ${load})`, a, b);
    for (const [i, f] of floors.entries()) printRow(`round ${round} ${f.mode} floor`, floored[i]!, b);
    ratios.push(a.rps / b.rps);
    cpu.push({ ours: a, ref: b, ...(old ? { before: old } : {}), floors: floored });
  }
  console.log(`\nmedian ratio ${median(ratios).toFixed(2)}× (rounds: ${ratios.map((r) => r.toFixed(2)).join(", ")})`);
  recordResult({
    bench: "proxy",
    figure: `proxy ÷ nginx req/s, median of ${ROUNDS} rounds`,
    value: median(ratios),
    unit: "×",
    target: { op: ">=", value: 0.7 },
  });
  console.log("CPU per request (user + system):");
  for (const [i, c] of cpu.entries()) {
    if (c.before) console.log(`  round ${i + 1}: before ${cpuLine(c.before)}`);
    console.log(`  round ${i + 1}: proxy ${cpuLine(c.ours)}, nginx ${cpuLine(c.ref)}, nginx/proxy ${(c.ref.cpuUs / c.ours.cpuUs).toFixed(2)}×`);
    for (const [j, f] of floors.entries()) console.log(`  round ${i + 1}: ${f.label} ${cpuLine(c.floors[j]!)}`);
  }
  if (PROFILE) {
    // The profile is written when the process exits: stop it and wait.
    await new Promise((resolve) => {
      ours.once("exit", resolve);
      ours.kill("SIGTERM");
    });
    const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error(`no profile in ${profileDir}`);
    const shares = summarize(join(profileDir, file), join(ROOT, "images", "proxy", "dist", "main.mjs"));
    const busy = 1 - (shares.find((s) => s.category.startsWith("idle"))?.share ?? 0);
    console.log(`\nWhere the proxy's CPU went (self time; share of all samples, and of the busy ones; ${join(profileDir, file)}):`);
    for (const { category, share } of shares.slice(0, 16))
      console.log(
        `  ${(share * 100).toFixed(1).padStart(5)}%  ${category.startsWith("idle") ? "      " : `${((share / busy) * 100).toFixed(1).padStart(5)}%`}  ${category}`,
      );
  }
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
