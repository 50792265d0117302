/**
 * web vs nginx: the same small (1 KiB HTML) and large (1 MiB binary) files, served over
 * keep-alive to wrk (1 thread, 32 connections), one after the other on this machine.
 * nginx runs one worker process, like our single Node process; access logs off on both.
 * Also prints each server's CPU time per request (user + system of its process tree over
 * the wrk run), which a busy machine moves far less than the rates.
 * `--floor` also serves the small file from floor.mts (node:http with prepared headers and
 * nothing else) and prints its CPU per request: the part of ours that node:http costs.
 * Usage: npx tsx bench/web/run.ts [seconds] [--floor]   (needs: bash bench/web/setup.sh)
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { NODE, ROOT, printHeader, printRow, requireTools, start, startRole, treeCpuSeconds, waitPort, wrk, type Result } from "./harness";
import { STANDALONE_CONFIG } from "../../images/runtime/replica";
import { recordResult } from "../summary";

const FLOOR = process.argv.includes("--floor");
const SECONDS = Number(process.argv.slice(2).find((a) => a !== "--floor") ?? 5);
const FLOOR_PORT = 40187;
const OURS = 40180;
const NGINX = 40181;

async function main(): Promise<void> {
  requireTools(["nginx", "wrk"]);
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-web-"));
  const root = join(dir, "site");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(root);
  writeFileSync(join(root, "small.html"), `<!doctype html><title>bench</title>${"<p>serverpark</p>".repeat(58)}\n`);
  writeFileSync(join(root, "large.bin"), randomBytes(1024 * 1024));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ ...STANDALONE_CONFIG, replica: "bench-0", settings: { accessLog: false, sites: [{ host: "bench.test", root, default: true }] } }),
  );
  writeFileSync(
    join(dir, "nginx.conf"),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http { include /etc/nginx/mime.types; access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000; etag on;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${NGINX}; server_name bench.test; root ${root}; } }
`,
  );
  const oursChild = await startRole("web", { SP_CONFIG: join(dir, "config.json"), SP_HTTP_PORT: String(OURS), SP_MGMT_PORT: "40189", SP_HTTPS_PORT: "40188" });
  const nginxChild = start("nginx", ["-c", join(dir, "nginx.conf"), "-p", dir]);
  const floor = FLOOR ? start(NODE, [join(ROOT, "bench", "web", "floor.mts"), String(FLOOR_PORT), join(root, "small.html")]) : undefined;
  await Promise.all([waitPort(OURS), waitPort(NGINX), ...(floor ? [waitPort(FLOOR_PORT)] : [])]);
  // Warm both (file caches, JIT).
  wrk(`http://127.0.0.1:${OURS}/small.html`, "bench.test", 1);
  wrk(`http://127.0.0.1:${NGINX}/small.html`, "bench.test", 1);
  if (floor) wrk(`http://127.0.0.1:${FLOOR_PORT}/small.html`, "bench.test", 1);

  console.log(`web vs nginx, ${SECONDS} s per case, wrk -t1 -c32, keep-alive`);
  printHeader("web", "nginx");
  for (const [label, path, short] of [
    ["small file (1 KiB html)", "/small.html", "1 KiB"],
    ["large file (1 MiB binary)", "/large.bin", "1 MiB"],
  ] as const) {
    const measured = (pid: number, port: number): [Result, number] => {
      const before = treeCpuSeconds(pid);
      const result = wrk(`http://127.0.0.1:${port}${path}`, "bench.test", SECONDS);
      return [result, ((treeCpuSeconds(pid) - before) / (result.requests ?? NaN)) * 1e6];
    };
    const [ours, oursCpu] = measured(oursChild.pid!, OURS);
    const [ref, refCpu] = measured(nginxChild.pid!, NGINX);
    printRow(label, ours, ref);
    console.log(`  CPU per request: web ${oursCpu.toFixed(1)} µs, nginx ${refCpu.toFixed(1)} µs (nginx ÷ web ${(refCpu / oursCpu).toFixed(2)}×)`);
    recordResult({ bench: "web", figure: `${short} file, web ÷ nginx req/s`, value: ours.rps / ref.rps, unit: "×", target: { op: ">=", value: 0.9 } });
    if (floor && short === "1 KiB") {
      const [bare, bareCpu] = measured(floor.pid!, FLOOR_PORT);
      printRow("  node:http floor, 1 KiB", bare, ref);
      console.log(
        `  CPU per request: node:http floor ${bareCpu.toFixed(1)} µs (web ÷ floor ${(oursCpu / bareCpu).toFixed(2)}×, nginx ÷ floor ${(refCpu / bareCpu).toFixed(2)}×)`,
      );
    }
  }
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
