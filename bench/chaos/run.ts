/**
 * Chaos benchmark, on a datacenter deployed for it (the local stack renamed `spbench`, its
 * own networks and ports, applied by `serverpark lab up` and removed at the end):
 *
 * 1. **HTTP error window through the proxy** when a host carrying one web replica loses
 *    power: CLIENTS loops request https://www.<domain>/ through a proxy replica on another
 *    host, each request on a fresh connection and asking for a fresh copy (no-cache), while
 *    `serverpark chaos --scenario host:<h>@0/<outage>` cuts that host; per run: requests,
 *    failed requests (an error, a status ≥ 500 or no answer within 5 s) and the window from
 *    the first failure's start to the last failure's end.
 * 2. **db after a power cut of a data node's host** (`host:h3@0/1m`, h3 carries db-0): the db
 *    is a highly available group, so its measured outage is the failover when db-0 was the
 *    primary (chaos reports which) and nothing when it was the standby; and db-0's own boot
 *    after the power-on from its log (node start, PostgreSQL's crash recovery: redo,
 *    end-of-recovery checkpoint, ready), which is what the db's return would be without a
 *    standby (and is, when both data nodes are dark: scenario 3).
 *
 * Needs Docker and the role bundles (`npx tsx images/build.ts`); run under the shared lock:
 *   flock /tmp/serverpark-e2e.lock npx tsx bench/chaos/run.ts [windowRuns=5] [dbRuns=6]
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadPlan } from "../../cli/stack";
import { load, NAME, root, serverpark, stackFile } from "./lab";
import { recordResult } from "../summary";

const run = promisify(execFile);
const windowRuns = Number(process.argv[2] ?? 5);
const dbRuns = Number(process.argv[3] ?? 6);
const CLIENTS = 4;
/** Per client, between requests: 4 clients at about 40 req/s stay under the proxy's 100 req/s per address. */
const PAUSE_MS = 100;
const REQUEST_TIMEOUT_MS = 5000;
const OUTAGE = "10m"; // 10 s at speed 60: longer than the proxy's 10 s ejection window would need to hide anything

interface Attempt {
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  /** A failure: the status or the error. */
  readonly why?: string;
}

function get(port: number, hostname: string): Promise<{ ok: boolean; why?: string }> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        servername: hostname,
        rejectUnauthorized: false,
        agent: false,
        headers: { host: hostname, "cache-control": "no-cache" },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 500;
        res.on("end", () => resolve(status < 500 ? { ok: true } : { ok: false, why: `HTTP ${status} ${String(res.headers["x-served-by"] ?? "")}`.trim() }));
        res.on("error", (e) => resolve({ ok: false, why: e.message }));
      },
    );
    req.on("error", (e) => resolve({ ok: false, why: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

/** CLIENTS loops hitting the site until stopped. */
function hammer(port: number, hostname: string): { stop(): Promise<Attempt[]> } {
  const attempts: Attempt[] = [];
  let running = true;
  const loops = Array.from({ length: CLIENTS }, async () => {
    while (running) {
      const start = Date.now();
      const answer = await get(port, hostname);
      attempts.push({ start, end: Date.now(), ...answer });
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return attempts;
    },
  };
}

async function dbLog(container: string, sinceIso: string): Promise<{ t: number; msg: string }[]> {
  const { stdout, stderr } = await run("docker", ["logs", "--since", sinceIso, container], { maxBuffer: 64 * 1024 * 1024 });
  return `${stdout}\n${stderr}`
    .split("\n")
    .filter(Boolean)
    .flatMap((l) => {
      try {
        const j = JSON.parse(l) as { time?: number | string; msg?: string };
        return [{ t: typeof j.time === "number" ? j.time : Date.parse(String(j.time)), msg: String(j.msg ?? "") }];
      } catch {
        return [];
      }
    });
}

async function containerStarted(name: string): Promise<number> {
  const { stdout } = await run("docker", ["inspect", "--format", "{{.State.StartedAt}}", name]);
  return Date.parse(stdout.trim());
}

async function main(): Promise<void> {
  // Host ports below 32768: above, the kernel hands them out as client ports and one may be taken.
  const file = stackFile(NAME, 26000, 120);
  const outDir = mkdtempSync(join(tmpdir(), "sp-bench-chaos-out-"));
  console.log(`bench chaos: every chaos run's JSON goes to ${outDir}`);
  const { plan } = loadPlan(file, root, { ignoreLock: true });
  const web = plan.replicas.filter((r) => r.role === "web");
  const proxies = plan.replicas.filter((r) => r.role === "proxy");
  // A host with a web replica and no proxy replica: the cut tests the proxy's failover, not the client's.
  const victim = web.find((w) => !proxies.some((p) => p.host === w.host));
  if (!victim || web.length < 2) throw new Error("the stack needs two web replicas, one on a host without a proxy");
  const edge = proxies.find((p) => p.host !== victim.host)!;
  console.log(`bench chaos: deploying ${NAME} (lab up) at load ${load()}`);
  const up = await serverpark(["lab", "up", file], false);
  if (up.code !== 0) throw new Error(`lab up failed (${up.code})`);
  try {
    const { stdout } = await run("docker", ["port", `${NAME}-${edge.id}`, "443/tcp"]);
    const port = Number(/:(\d+)\s*$/m.exec(stdout.split("\n")[0]!)?.[1]);
    const hostname = `www.${plan.domain}`;

    console.log(
      `\n1. HTTP error window: ${victim.host} (carries ${victim.id}) loses power for ${OUTAGE} simulated at speed 60; ${CLIENTS} clients through ${edge.id}`,
    );
    const rows: string[] = [];
    const windows: number[] = [];
    for (let i = 0; i < windowRuns; i++) {
      const client = hammer(port, hostname);
      await new Promise((r) => setTimeout(r, 2000));
      const chaos = await serverpark(["chaos", file, "--scenario", `host:${victim.host}@0/${OUTAGE}`, "--json"]);
      const attempts = await client.stop();
      const failed = attempts.filter((a) => !a.ok);
      const log = JSON.parse(chaos.stdout || "{}") as { startedAt?: string; changes?: { kind: string; realSeconds: number }[] };
      const cutAt = Date.parse(log.startedAt ?? "") + 1000 * (log.changes?.find((c) => c.kind === "power-off")?.realSeconds ?? NaN);
      const window = failed.length === 0 ? 0 : (Math.max(...failed.map((a) => a.end)) - Math.min(...failed.map((a) => a.start))) / 1000;
      windows.push(window);
      const firstAfterCut = failed.length === 0 ? NaN : (Math.min(...failed.map((a) => a.start)) - cutAt) / 1000;
      const saved = join(outDir, `window-${i + 1}.json`);
      writeFileSync(
        saved,
        JSON.stringify({ chaos: log, stderr: chaos.stderr, failed: failed.map((a) => ({ ...a, afterCut: (a.start - cutAt) / 1000 })) }, null, 2),
      );
      for (const a of failed)
        console.log(`   failed: asked ${((a.start - cutAt) / 1000).toFixed(2)} s after the cut, took ${((a.end - a.start) / 1000).toFixed(2)} s: ${a.why}`);
      rows.push(
        `| ${i + 1} | ${load()} | ${attempts.length} | ${failed.length} | ${window.toFixed(2)} s | ${Number.isFinite(firstAfterCut) ? `${firstAfterCut.toFixed(2)} s` : "-"} | ${chaos.code} |`,
      );
      console.log(rows[rows.length - 1]);
    }
    console.log(
      ["", "| run | load | requests | failed | error window | first failure after the cut | chaos exit |", "|---|---|---|---|---|---|---|", ...rows].join("\n"),
    );
    recordResult({
      bench: "chaos",
      figure: `HTTP error window through the proxy, worst of ${windowRuns} host cuts`,
      value: Math.max(...windows),
      unit: "s",
      target: { op: "<=", value: 2 },
    });

    const db = plan.replicas.find((r) => r.role === "db" && r.part !== "monitor")!;
    console.log(`\n2. db: ${db.host} (carries ${db.id}) loses power for 1 minute simulated at speed 60`);
    const dbRows: string[] = [];
    for (let i = 0; i < dbRuns; i++) {
      const since = new Date(Date.now() - 1000).toISOString();
      const chaos = await serverpark(["chaos", file, "--scenario", `host:${db.host}@0/1m`, "--json"]);
      writeFileSync(join(outDir, `db-${i + 1}.json`), chaos.stdout);
      const primary = /its primary is (\S+)/.exec(chaos.stderr)?.[1] ?? "unknown";
      const log = JSON.parse(chaos.stdout || "{}") as {
        startedAt: string;
        changes: { kind: string; host: string; realSeconds: number }[];
        fidelity: { rows: { probe: string; verdict: string; measured: { seconds: number; down: { from: number; to: number }[] } }[] };
      };
      const started = Date.parse(log.startedAt);
      const off = log.changes.find((c) => c.kind === "power-off" && c.host === db.host)!;
      const on = log.changes.find((c) => c.kind === "power-on" && c.host === db.host)!;
      const row = log.fidelity.rows.find((r) => r.probe.startsWith("db/"))!;
      // The first outage from the cut: the failover when db-0 was the primary.
      const first = row.measured.down.find((d) => d.to > off.realSeconds);
      const outage = first ? `${(first.to - Math.max(first.from, off.realSeconds)).toFixed(2)} s` : "none";
      const lines = await dbLog(`${NAME}-${db.id}`, since);
      const startedAt = await containerStarted(`${NAME}-${db.id}`);
      const dockerStart = ((startedAt - started) / 1000 - on.realSeconds).toFixed(2);
      const at = (re: RegExp) => {
        const l = lines.find((x) => re.test(x.msg) && x.t >= started + on.realSeconds * 1000 - 200);
        return l ? ((l.t - started) / 1000 - on.realSeconds).toFixed(2) : "-";
      };
      const redo = lines.find((x) => /redo done at/.test(x.msg))?.msg.match(/elapsed: ([\d.]+) s/)?.[1] ?? "-";
      const ckpt =
        lines.find((x) => /checkpoint complete/.test(x.msg) && x.t >= started + on.realSeconds * 1000 - 500)?.msg.match(/total=([\d.]+) s/)?.[1] ?? "-";
      dbRows.push(
        `| ${i + 1} | ${load()} | ${primary} | ${outage} | ${row.verdict} | ${dockerStart} | ${at(/./)} | ${at(/database system was interrupted/)} | ${redo} | ${ckpt} | ${at(/ready to accept connections/)} | ${chaos.code} |`,
      );
      console.log(dbRows[dbRows.length - 1]);
    }
    console.log(
      [
        "",
        `db outage from the cut (the failover when ${db.id} was the primary), then ${db.id}'s boot in seconds after the power-on (the agent told, then \`docker start\`):`,
        "| run | load | primary at the start | db outage | verdict | container started | first log line | PG: was interrupted | redo (PG) | end-of-recovery checkpoint (PG) | PG ready | chaos exit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ...dbRows,
      ].join("\n"),
    );

    console.log(
      `\n3. every host at once: both feeds lose utility, both generators fail (speed 600); when each replica's container started and first answered after its host's power-on`,
    );
    const whole = await serverpark(["chaos", file, "--scenario", "utility:A@0/4h,utility:B@0/4h,generator:A@0,generator:B@0", "--speed", "600", "--json"]);
    writeFileSync(join(outDir, "whole.json"), whole.stdout);
    const log = JSON.parse(whole.stdout || "{}") as {
      startedAt: string;
      changes: { kind: string; host: string; realSeconds: number; started: { container: string; service: string }[] }[];
      fidelity: { rows: { probe: string; service: string; measured: { down: { to: number }[] } }[] };
    };
    const t0 = Date.parse(log.startedAt);
    const boots = log.changes.filter((c) => c.kind === "power-on");
    const wholeRows: string[] = [];
    for (const c of boots)
      for (const r of c.started) {
        const at = ((await containerStarted(r.container)) - t0) / 1000 - c.realSeconds;
        const back = log.fidelity.rows.filter((x) => x.service === r.service).map((x) => x.measured.down.at(-1)?.to ?? NaN);
        wholeRows.push(`| ${r.container} | ${c.host} | ${at.toFixed(2)} s | ${back.map((b) => `${(b - c.realSeconds).toFixed(1)} s`).join(", ")} |`);
      }
    console.log(["| container | host | started after the power-on | its service answered after |", "|---|---|---|---|", ...wholeRows.sort()].join("\n"));
    console.log(`load ${load()}, chaos exit ${whole.code}`);
  } finally {
    const down = await serverpark(["lab", "down", file]);
    console.log(`\nlab down: exit ${down.code}`);
  }
}

main().catch((e: Error) => {
  console.error(`bench chaos: ${e.message}`);
  process.exitCode = 1;
});
