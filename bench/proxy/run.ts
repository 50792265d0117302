/**
 * proxy vs nginx as reverse proxy, in front of the same upstream (an nginx serving a
 * 1 KiB file), both with keep-alive to the upstream and caching off, one worker each;
 * wrk 1 thread, 32 connections. The two are measured in alternating rounds (the load of
 * this shared machine changes within seconds, so back-to-back 10 s runs compared different
 * machines), and beside req/s each round reports the CPU time (user + system, from
 * /proc/<pid>/stat) the proxy process spent per request, which depends far less on what
 * else runs than the rate does.
 * Usage: npx tsx bench/proxy/run.ts [seconds per round] [rounds]   (needs: bash bench/web/setup.sh)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { printHeader, printRow, requireTools, start, startRole, waitPort, wrk } from "../web/harness";
import { STANDALONE_CONFIG } from "../../images/runtime/replica";
import { median, recordResult } from "../summary";

const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 3);
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux). */
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  // Fields after the command name (which may hold spaces, so split after its closing paren).
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** One wrk run with the CPU time `pid` spent on it, per request. */
function measure(url: string, pid: number): ReturnType<typeof wrk> & { cpuUs: number } {
  const before = cpuSeconds(pid);
  const result = wrk(url, "bench.test", SECONDS);
  const cpu = cpuSeconds(pid) - before;
  return { ...result, cpuUs: (cpu / (result.rps * SECONDS)) * 1e6 };
}

const UPSTREAM = 40280;
const OURS = 40281;
const NGINX = 40282;

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
  const ours = await startRole("proxy", { SP_CONFIG: join(dir, "config.json"), SP_HTTP_PORT: String(OURS), SP_HTTPS_PORT: "40288", SP_MGMT_PORT: "40289" });
  await Promise.all([waitPort(UPSTREAM), waitPort(OURS), waitPort(NGINX)]);
  // Warm both up (JIT, connection pools to the upstream).
  wrk(`http://127.0.0.1:${OURS}/small.html`, "bench.test", 3);
  wrk(`http://127.0.0.1:${NGINX}/small.html`, "bench.test", 3);

  // nginx's one worker is the master's only child: that is the process doing the proxying.
  const worker = Number(
    execFileSync("pgrep", ["-P", String(nginxProxy.pid)], { encoding: "utf8" })
      .trim()
      .split("\n")[0],
  );

  console.log(`proxy vs nginx reverse proxy, ${ROUNDS} alternating rounds of ${SECONDS} s, wrk -t1 -c32, keep-alive both sides, upstream nginx (2 workers)`);
  printHeader("proxy", "nginx");
  const ratios: number[] = [];
  const cpu: { ours: number; ref: number }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
    const a = measure(`http://127.0.0.1:${OURS}/small.html`, ours.pid!);
    const b = measure(`http://127.0.0.1:${NGINX}/small.html`, worker);
    printRow(`round ${round} (load ${load})`, a, b);
    ratios.push(a.rps / b.rps);
    cpu.push({ ours: a.cpuUs, ref: b.cpuUs });
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
  for (const [i, c] of cpu.entries())
    console.log(`  round ${i + 1}: proxy ${c.ours.toFixed(1)} µs, nginx ${c.ref.toFixed(1)} µs, nginx/proxy ${(c.ref / c.ours).toFixed(2)}×`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
