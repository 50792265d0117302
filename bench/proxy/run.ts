/**
 * proxy vs nginx as reverse proxy, in front of the same upstream (an nginx serving a
 * 1 KiB file), both with keep-alive to the upstream and caching off, one worker each;
 * wrk 1 thread, 32 connections.  Usage: npx tsx bench/proxy/run.ts [seconds]
 * (needs: bash bench/web/setup.sh)
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { printHeader, printRow, requireTools, start, startRole, waitPort, wrk } from "../web/harness";

const SECONDS = Number(process.argv[2] ?? 5);
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
      replica: "bench-0",
      settings: { accessLog: false, rateLimit: { requestsPerSecond: 0 }, routes: [{ hosts: ["*"], servers: [`127.0.0.1:${UPSTREAM}`], cache: false }] },
    }),
  );
  start("nginx", ["-c", join(dir, "upstream.conf"), "-p", dir]);
  start("nginx", ["-c", join(dir, "nginx-proxy.conf"), "-p", dir]);
  await startRole("proxy", { SP_CONFIG: join(dir, "config.json"), SP_HTTP_PORT: String(OURS), SP_HTTPS_PORT: "40288", SP_MGMT_PORT: "40289" });
  await Promise.all([waitPort(UPSTREAM), waitPort(OURS), waitPort(NGINX)]);
  wrk(`http://127.0.0.1:${OURS}/small.html`, "bench.test", 1);
  wrk(`http://127.0.0.1:${NGINX}/small.html`, "bench.test", 1);

  console.log(`proxy vs nginx reverse proxy, ${SECONDS} s, wrk -t1 -c32, keep-alive both sides, upstream nginx (2 workers)`);
  printHeader("proxy", "nginx");
  const ours = wrk(`http://127.0.0.1:${OURS}/small.html`, "bench.test", SECONDS);
  const ref = wrk(`http://127.0.0.1:${NGINX}/small.html`, "bench.test", SECONDS);
  printRow("1 KiB via reverse proxy", ours, ref);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
