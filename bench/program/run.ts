/**
 * Benchmark: the Serverpark program under Pulumi mocks for generated datacenters of 10, 100
 * and 1,000 hosts, side by side with a replay registering exactly the same resources without
 * any model and with a bare program registering as many plain resources (the comparison of
 * issue #2), plus the planner alone on 10,000 hosts. Prints wall and CPU time and ratios.
 * See README.md for the numbers and what they mean.
 *
 *   npx tsx bench/program/run.ts [--sizes 10,100,1000] [--repeat 3] [--planner-hosts 10000]
 *     [--planner-repeat 9] [--planner-base <dir>]
 *
 * `--sizes ""` skips the program and times only the planner. `--planner-base` is another
 * checkout of this repository (e.g. `git archive <commit> components contracts | tar -x -C
 * <dir>` plus a `node_modules` link): its planner is timed in the same process, alternating
 * with this one's, for a before/after in one run.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { loadNow, median, recordResult, timed } from "../summary";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { replicaLaunch } from "../../components/model/launch";
import { RUNTIME_CONFIG_PATH } from "../../contracts/paths";
import { planDatacenter } from "../../components/plan";
import { placeReplicas } from "../../components/plan/placement";
import { parseSpec } from "../../components/spec/validate";
import { generateSpec } from "../../test/support/generateSpec";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "10,100,1000" },
    repeat: { type: "string", default: "3" },
    "planner-hosts": { type: "string", default: "10000" },
    "planner-repeat": { type: "string", default: "9" },
    "planner-base": { type: "string" },
  },
});
const sizes = values
  .sizes!.split(",")
  .filter((s) => s !== "")
  .map(Number);
const repeat = Number(values.repeat);

interface Sample {
  readonly ms: number;
  readonly cpuMs: number;
  readonly resources: number;
}

/** Runs one mode `repeat` times in fresh processes; median wall and CPU time separately. */
function measure(mode: string, hosts: number, extra = ""): Sample {
  const samples: Sample[] = [];
  for (let i = 0; i < repeat; i++) {
    const out = execFileSync(process.execPath, ["--import", "tsx", "bench/program/child.ts", mode, String(hosts), extra], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    samples.push(JSON.parse(out.trim().split("\n").pop()!) as Sample);
  }
  return { ms: median(samples.map((s) => s.ms)), cpuMs: median(samples.map((s) => s.cpuMs)), resources: samples[0]!.resources };
}

const ratio = (a: number, b: number): string => (a / b).toFixed(2).padStart(5);
const dumpDir = mkdtempSync(join(tmpdir(), "bench-program-"));
console.log(
  `load average at start: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} on ${availableParallelism()} cores`,
);
console.log(`Program under mocks (median of ${repeat} fresh processes each; wall ms / CPU ms of the process)`);
console.log("  bare: as many plain resources (2 properties each); replay: the same resources, same SDK classes and inputs, no model;");
console.log("  floor: the same resources and SDK classes with only their required inputs (what the SDKs charge per resource)");
console.log(
  "hosts  resources  program wall/cpu  replay wall/cpu  floor wall/cpu  bare wall/cpu  ×replay wall/cpu  ×floor wall/cpu  ×bare wall/cpu  floor×bare cpu  program cpu ms/host",
);
const rows: { hosts: number; program: Sample; bare: Sample }[] = [];
for (const hosts of sizes) {
  const dump = join(dumpDir, `program-${hosts}.json`);
  const program = measure("program", hosts, dump);
  const replayed = measure("replay", hosts, dump);
  const floor = measure("floor", hosts, dump);
  const bare = measure("bare", hosts, String(program.resources));
  if (replayed.resources !== program.resources) throw new Error(`replay registered ${replayed.resources} resources, the program ${program.resources}`);
  rows.push({ hosts, program, bare });
  const pair = (s: Sample, w: number) => `${s.ms}/${s.cpuMs}`.padStart(w);
  console.log(
    `${String(hosts).padStart(5)}  ${String(program.resources).padStart(9)}  ${pair(program, 16)}  ${pair(replayed, 15)}  ${pair(floor, 14)}  ${pair(bare, 13)}  ${ratio(program.ms, replayed.ms)} / ${ratio(program.cpuMs, replayed.cpuMs)}   ${ratio(program.ms, floor.ms)} / ${ratio(program.cpuMs, floor.cpuMs)}   ${ratio(program.ms, bare.ms)} / ${ratio(program.cpuMs, bare.cpuMs)}  ${ratio(floor.cpuMs, bare.cpuMs).padStart(14)}  ${(program.cpuMs / hosts).toFixed(1).padStart(19)}`,
  );
}
rmSync(dumpDir, { recursive: true, force: true });
const largest = rows.at(-1);
if (largest)
  recordResult({
    bench: "program",
    figure: `program ÷ bare CPU, ${largest.hosts} hosts (the SDK's own floor is ~2× bare: bench/program/README.md)`,
    value: largest.program.cpuMs / largest.bare.cpuMs,
    unit: "×",
    target: { op: "<=", value: 2 },
  });
if (rows.length >= 2) {
  const [a, b] = [rows[rows.length - 2]!, rows[rows.length - 1]!];
  console.log(
    `growth ${a.hosts}→${b.hosts} hosts: wall ×${(b.program.ms / a.program.ms).toFixed(1)}, CPU ×${(b.program.cpuMs / a.program.cpuMs).toFixed(1)} for resources ×${(b.program.resources / a.program.resources).toFixed(1)}`,
  );
}
console.log(
  `load average at end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);

// What each replica receives: the largest runtime config per role (the file every target
// writes, components/model/launch.ts) in bytes of JSON and gzipped, and the role views kept in
// files of their own (components/model/viewFiles.ts): the largest, and how many distinct ones
// the datacenter writes and delivers.
console.log("\nLargest replica config per role (JSON bytes / gzip bytes; cloud-init caps user data at 32 KiB)");
for (const hosts of sizes) {
  const sized = planDatacenter(parseSpec(generateSpec({ hosts })));
  const services = new Map(sized.services.map((s) => [s.id, s]));
  const largest = new Map<string, { bytes: number; gzip: number; replica: string }>();
  const views = new Map<string, { bytes: number; roles: Set<string> }>();
  for (const r of sized.replicas) {
    const files = replicaLaunch(sized, r, services.get(r.service)!, [], []).files;
    const text = String(files.find((f) => f.path === RUNTIME_CONFIG_PATH)!.content);
    if ((largest.get(r.role)?.bytes ?? -1) < text.length) largest.set(r.role, { bytes: text.length, gzip: gzipSync(text).length, replica: r.id });
    for (const f of files)
      if (f.source)
        (views.get(f.source.sha256) ?? views.set(f.source.sha256, { bytes: f.source.bytes, roles: new Set() }).get(f.source.sha256)!).roles.add(r.role);
  }
  const cells = [...largest].sort(([a], [b]) => a.localeCompare(b)).map(([role, l]) => `${role} ${l.bytes}/${l.gzip}`);
  console.log(`${String(hosts).padStart(5)} hosts: ${cells.join("  ")}`);
  const perRole = new Map<string, { files: number; largest: number }>();
  for (const v of views.values()) {
    for (const role of v.roles) {
      const e = perRole.get(role) ?? { files: 0, largest: 0 };
      perRole.set(role, { files: e.files + 1, largest: Math.max(e.largest, v.bytes) });
    }
  }
  const viewCells = [...perRole].sort(([a], [b]) => a.localeCompare(b)).map(([role, v]) => `${role} ${v.files} file(s), largest ${v.largest}`);
  console.log(`${" ".repeat(13)}view files: ${viewCells.join("  ")}`);
}

const plannerHosts = Number(values["planner-hosts"]);
const plannerRepeat = Number(values["planner-repeat"]);
const spec = parseSpec(generateSpec({ hosts: plannerHosts, services: plannerHosts / 2 }));

type Planner = (s: typeof spec) => ReturnType<typeof planDatacenter>;

async function timePlanner(): Promise<void> {
  const sides: { name: string; plan: Planner }[] = [{ name: "this tree", plan: (s) => planDatacenter(s) }];
  if (values["planner-base"]) {
    const base = (await import(join(process.cwd(), values["planner-base"], "components/plan/index.ts"))) as { planDatacenter: Planner };
    sides.unshift({ name: `base ${values["planner-base"]}`, plan: (s) => base.planDatacenter(s) });
  }
  for (const side of sides) for (let i = 0; i < 2; i++) side.plan(spec); // warm-up (JIT)
  const plannerStart = loadNow();
  const placeSamples: number[] = [];
  const samples = sides.map(() => ({ ms: [] as number[], cpuMs: [] as number[] }));
  for (let i = 0; i < plannerRepeat; i++) {
    placeSamples.push(timed(() => placeReplicas(spec, undefined)).ms);
    sides.forEach((side, k) => {
      const t = timed(() => side.plan(spec));
      samples[k]!.ms.push(t.ms);
      samples[k]!.cpuMs.push(t.cpuMs);
    });
  }
  const plan = planDatacenter(spec);
  const placement = placeReplicas(spec, undefined);
  console.log(`\nPlanner: ${plannerHosts} hosts, ${plan.services.length} services, ${placement.hostOf.size} replicas, ${plan.zones.length} DNS zones`);
  console.log(`  ${plannerRepeat} runs after a warm-up, alternating; load average ${plannerStart} at the start, ${loadNow()} at the end`);
  console.log(`  placement  median ${median(placeSamples).toFixed(0).padStart(5)} ms wall (target < 1000 ms)`);
  recordResult({
    bench: "program",
    figure: `placement, ${plannerHosts} hosts, median wall`,
    value: median(placeSamples),
    unit: "ms",
    target: { op: "<=", value: 1000 },
  });
  const ours = samples[samples.length - 1]!;
  recordResult({
    bench: "program",
    figure: `whole plan, ${plannerHosts} hosts, median wall`,
    value: median(ours.ms),
    unit: "ms",
    target: { op: "<=", value: 200 },
  });
  sides.forEach((side, k) => {
    const s = samples[k]!;
    console.log(
      `  whole plan (+ addresses, ports, DNS zones, exposure), ${side.name}: median ${median(s.ms).toFixed(0).padStart(5)} ms wall, ${median(s.cpuMs).toFixed(0).padStart(5)} ms CPU; fastest ${Math.min(...s.ms).toFixed(0)} ms wall (target < 200 ms)`,
    );
  });
}

void timePlanner();
