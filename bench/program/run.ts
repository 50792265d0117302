/**
 * Benchmark: the Serverpark program under Pulumi mocks for generated datacenters of 10, 100
 * and 1,000 hosts, side by side with a bare program registering the same number of plain
 * resources, plus the planner alone on 10,000 hosts. Prints wall time, resources and ratios.
 *
 *   npx tsx bench/program/run.ts [--sizes 10,100,1000] [--repeat 3]
 */
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { planDatacenter } from "../../components/plan";
import { placeReplicas } from "../../components/plan/placement";
import { parseSpec } from "../../components/spec/validate";
import { generateSpec } from "../../test/support/generateSpec";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "10,100,1000" },
    repeat: { type: "string", default: "3" },
    "planner-hosts": { type: "string", default: "10000" },
  },
});
const sizes = values.sizes!.split(",").map(Number);
const repeat = Number(values.repeat);

function measure(mode: string, hosts: number, count = 0): { ms: number; resources: number } {
  const samples: { ms: number; resources: number }[] = [];
  for (let i = 0; i < repeat; i++) {
    const out = execFileSync("npx", ["tsx", "bench/program/child.ts", mode, String(hosts), String(count)], { encoding: "utf8", maxBuffer: 64 << 20 });
    samples.push(JSON.parse(out.trim().split("\n").pop()!));
  }
  samples.sort((a, b) => a.ms - b.ms);
  return samples[Math.floor(samples.length / 2)]!; // median
}

console.log(`Program under mocks (median of ${repeat} fresh processes each)`);
console.log("hosts  resources  serverpark ms  bare ms  ratio  ms/resource");
const rows: { hosts: number; ms: number; resources: number }[] = [];
for (const hosts of sizes) {
  const ours = measure("program", hosts);
  const bare = measure("bare", hosts, ours.resources);
  rows.push({ hosts, ...ours });
  console.log(
    `${String(hosts).padStart(5)}  ${String(ours.resources).padStart(9)}  ${String(ours.ms).padStart(13)}  ${String(bare.ms).padStart(7)}  ${(ours.ms / bare.ms).toFixed(2).padStart(5)}  ${(ours.ms / ours.resources).toFixed(3).padStart(11)}`,
  );
}
if (rows.length >= 2) {
  const [a, b] = [rows[rows.length - 2]!, rows[rows.length - 1]!];
  console.log(`growth ${a.hosts}→${b.hosts} hosts: time ×${(b.ms / a.ms).toFixed(1)} for resources ×${(b.resources / a.resources).toFixed(1)}`);
}

const plannerHosts = Number(values["planner-hosts"]);
const spec = parseSpec(generateSpec({ hosts: plannerHosts, services: plannerHosts / 2 }));
planDatacenter(spec); // warm-up
let t0 = performance.now();
const placement = placeReplicas(spec, undefined);
const placeMs = performance.now() - t0;
t0 = performance.now();
const plan = planDatacenter(spec);
const plannerMs = performance.now() - t0;
console.log(`\nPlanner: ${plannerHosts} hosts, ${plan.services.length} services, ${placement.hostOf.size} replicas`);
console.log(`  placement            ${placeMs.toFixed(0).padStart(6)} ms (target < 1000 ms)`);
console.log(`  whole plan (+ addresses, ports, ${plan.zones.length} DNS zones, exposure) ${plannerMs.toFixed(0).padStart(6)} ms`);
