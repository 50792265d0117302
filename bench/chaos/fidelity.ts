/**
 * The fidelity of `serverpark chaos` over repeated runs: issue 14's five scenarios (the same
 * as test/e2e/chaos.e2e.test.ts) on a copy of the local stack deployed by `serverpark lab`
 * (its state holds the passwords, so the probes log in), ROUNDS times, at the default
 * tolerance. Prints each run's verdict table, then per scenario and probe the worst
 * difference and how many runs were ok. The db is a highly available group (db-0 on h3, db-1
 * on h6): (b) and (c) cut h3, which costs the db a failover when db-0 is the primary and
 * nothing when it is the standby — each run prints the primary chaos found at its start.
 *
 *   flock /tmp/serverpark-e2e.lock npx tsx bench/chaos/fidelity.ts [rounds=3] [copy=0]
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { load, serverpark, stackFile } from "./lab";
import { recordResult } from "../summary";

const rounds = Number(process.argv[2] ?? 3);
/** Another name (and its own networks and ports) when a previous copy cannot be removed. */
const copy = Number(process.argv[3] ?? 0);
const NAME = copy === 0 ? "spfidelity" : `spfidelity${copy}`;

interface Row {
  probe: string;
  verdict: string;
  differenceSeconds: number;
  predicted: { down: { from: number; to: number }[]; latestDown: { from: number; to: number }[] };
  measured: { down: { from: number; to: number }[] };
}

async function main(): Promise<void> {
  // Host ports below 32768: above, the kernel hands them out as client ports and one may be taken.
  const file = stackFile(NAME, 27000 + 300 * copy, 124 + 4 * copy);
  const okScenario = join(tmpdir(), `sp-fidelity-a-${process.pid}.yaml`);
  writeFileSync(
    okScenario,
    stringify({ name: "utility A lost, generator A starts", duration: "1h", generatorStart: "ok", events: [{ at: 0, fail: "utility:A", for: "30m" }] }),
  );
  const scenarios: [string, string, number][] = [
    ["d host h1 fails", "host:h1@0/1m", 60],
    ["b utility A, generator A fails", "utility:A@0/4h,generator:A@0", 600],
    ["a utility A, generator A starts", okScenario, 600],
    ["c PDU r1-pdu-a fails", "pdu:r1-pdu-a@0/2m", 60],
    ["e both feeds, both generators fail", "utility:A@0/4h,utility:B@0/4h,generator:A@0,generator:B@0", 600],
  ];
  console.log(`bench chaos fidelity: deploying ${NAME} (lab up) at load ${load()}`);
  const up = await serverpark(["lab", "up", file], false);
  if (up.code !== 0) throw new Error(`lab up failed (${up.code})`);
  const results = new Map<string, { ok: number; runs: number; worst: number }>();
  try {
    for (let round = 1; round <= rounds; round++)
      for (const [name, scenario, speed] of scenarios) {
        const before = load();
        const chaos = await serverpark(["chaos", file, "--scenario", scenario, "--speed", String(speed), "--json"]);
        const rows = (JSON.parse(chaos.stdout || "{}") as { fidelity?: { rows: Row[] } }).fidelity?.rows ?? [];
        const show = (d: { from: number; to: number }[]) => d.map((i) => `${i.from.toFixed(1)}–${i.to.toFixed(1)}`).join(",") || "-";
        const primary = /its primary is (\S+)/.exec(chaos.stderr)?.[1] ?? "unknown";
        console.log(`\n${name}, round ${round} (load ${before} → ${load()}, db primary ${primary}), exit ${chaos.code}`);
        if (rows.length === 0) console.log(chaos.stderr.slice(-2000));
        for (const r of rows) {
          const latest = r.predicted.latestDown.at(-1)?.to;
          console.log(
            `  ${r.probe.padEnd(17)} predicted ${show(r.predicted.down)}${latest !== undefined && latest !== r.predicted.down.at(-1)?.to ? `…${latest.toFixed(1)}` : ""}  measured ${show(r.measured.down)}  ${r.differenceSeconds >= 0 ? "+" : ""}${r.differenceSeconds.toFixed(1)} s ${r.verdict}`,
          );
          const key = `${name} | ${r.probe}`;
          const agg = results.get(key) ?? { ok: 0, runs: 0, worst: 0 };
          agg.runs++;
          if (r.verdict === "ok") agg.ok++;
          if (Math.abs(r.differenceSeconds) > Math.abs(agg.worst)) agg.worst = r.differenceSeconds;
          results.set(key, agg);
        }
      }
  } finally {
    const down = await serverpark(["lab", "down", file]);
    console.log(`\nlab down: exit ${down.code}`);
  }
  const all = [...results.values()];
  recordResult({
    bench: "chaos-fidelity",
    figure: `probe verdicts within tolerance, ${rounds} rounds of ${scenarios.length} scenarios`,
    value:
      all.reduce((n, r) => n + r.ok, 0) /
      Math.max(
        1,
        all.reduce((n, r) => n + r.runs, 0),
      ),
    unit: "×",
    target: { op: ">=", value: 1 },
  });
  console.log("\n| scenario | probe | ok runs | worst difference |\n|---|---|---|---|");
  for (const [key, r] of results) {
    const [scenario, probe] = key.split(" | ");
    console.log(`| ${scenario} | ${probe} | ${r.ok}/${r.runs} | ${r.worst >= 0 ? "+" : ""}${r.worst.toFixed(1)} s |`);
  }
}

main().catch((e: Error) => {
  console.error(`bench chaos fidelity: ${e.message}`);
  process.exitCode = 1;
});
