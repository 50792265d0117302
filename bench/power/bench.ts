/**
 * Power model benchmark: Monte-Carlo years per second (local stack and a generated
 * 1,000-host datacenter) and N-1 analysis time for 1,000 hosts, each against the issue's
 * target. Run: `npx tsx bench/power/bench.ts [--repeat 7] [--base <dir>]` (numbers go into
 * bench/power/README.md).
 *
 * `--base` is another checkout of this repository (e.g. `git archive <commit> components
 * contracts | tar -x -C <dir>` plus a `node_modules` link): the 1,000-host Monte-Carlo of its
 * power model is timed in the same process, alternating with this tree's, for a before/after
 * in one run.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadPlan } from "../../cli/stack";
import { estimateAvailability, nMinusOne } from "../../components/power";
import { loadNow, median, recordResult, timed } from "../summary";
import { generatedDatacenter } from "./generate";

function time<T>(fn: () => T): { ms: number; value: T } {
  const start = performance.now();
  const value = fn();
  return { ms: performance.now() - start, value };
}

function report(name: string, measuredMs: number, targetMs: number, extra: string): void {
  recordResult({ bench: "power", figure: name, value: measuredMs, unit: "ms", target: { op: "<=", value: targetMs } });
  const verdict = measuredMs <= targetMs ? "meets target" : "MISSES target";
  console.log(
    `${name.padEnd(44)} measured ${measuredMs.toFixed(0).padStart(6)} ms   target ${String(targetMs).padStart(5)} ms   ratio ${(measuredMs / targetMs).toFixed(3)}  ${verdict}  (${extra})`,
  );
}

const local = loadPlan("local", process.cwd());
estimateAvailability(local.spec, local.plan, { years: 50, seed: 1 }); // warm-up (JIT)
const mcLocal = time(() => estimateAvailability(local.spec, local.plan, { years: 1000, seed: 1 }));
report("Monte-Carlo, local stack, 1,000 years", mcLocal.ms, 5000, `${Math.round(1000 / (mcLocal.ms / 1000))} years/s`);

const gen = time(() => generatedDatacenter(1000));
console.log(
  `(generated 1,000-host datacenter with ${gen.value.plan.services.length} services and ${gen.value.plan.replicas.length} replicas: spec + plan in ${gen.ms.toFixed(0)} ms)`,
);
const big = gen.value;
nMinusOne(big.spec, big.plan, { kinds: ["feed"] }); // warm-up
const n1 = time(() => nMinusOne(big.spec, big.plan));
const spof = n1.value.filter((r) => r.servicesDown.length > 0).length;
report("N-1, 1,000 hosts", n1.ms, 2000, `${n1.value.length} failures, ${spof} take a service down`);

// A run has a fixed part (topology, tier rules) and a per-year part; two lengths separate
// them. Each side runs `--repeat` times after a warm-up, alternating with the base tree's
// when there is one; medians of wall and CPU time (user + system of the process).
const { values } = parseArgs({ options: { repeat: { type: "string", default: "7" }, base: { type: "string" } } });
const repeat = Number(values.repeat);
type Estimate = typeof estimateAvailability;
const sides: { name: string; estimate: Estimate }[] = [{ name: "this tree", estimate: estimateAvailability }];

async function monteCarlo(): Promise<void> {
  if (values.base) {
    const base = (await import(join(process.cwd(), values.base, "components/power/index.ts"))) as { estimateAvailability: Estimate };
    sides.unshift({ name: `base ${values.base}`, estimate: base.estimateAvailability });
  }
  for (const side of sides) side.estimate(big.spec, big.plan, { years: 20, seed: 1 }); // warm-up
  const startLoad = loadNow();
  const runs = sides.map(() => ({ short: [] as { ms: number; cpuMs: number }[], long: [] as { ms: number; cpuMs: number }[] }));
  for (let i = 0; i < repeat; i++) {
    sides.forEach((side, k) => {
      runs[k]!.short.push(timed(() => side.estimate(big.spec, big.plan, { years: 10, seed: 1 })));
      runs[k]!.long.push(timed(() => side.estimate(big.spec, big.plan, { years: 110, seed: 1 })));
    });
  }
  console.log(`Monte-Carlo, 1,000 hosts: 10 and 110 years, ${repeat} runs each, load average ${startLoad} at the start, ${loadNow()} at the end`);
  sides.forEach((side, k) => {
    for (const what of ["ms", "cpuMs"] as const) {
      const short = median(runs[k]!.short.map((r) => r[what]));
      const long = median(runs[k]!.long.map((r) => r[what]));
      const marginal = 100 / ((long - short) / 1000);
      if (what === "cpuMs" && k === sides.length - 1)
        recordResult({
          bench: "power",
          figure: "Monte-Carlo, 1,000 hosts, years/s overall (CPU)",
          value: 110 / (long / 1000),
          unit: "years/s",
          target: { op: ">=", value: 1000 },
        });
      console.log(
        `  ${side.name.padEnd(28)} ${what === "ms" ? "wall" : "CPU "}  110 years ${long.toFixed(0).padStart(5)} ms, 10 years ${short.toFixed(0).padStart(4)} ms: ${marginal.toFixed(0).padStart(5)} years/s marginal, ${(110 / (long / 1000)).toFixed(0).padStart(5)} years/s overall (target >= 1000 years/s)`,
      );
    }
  });
}

void monteCarlo();
