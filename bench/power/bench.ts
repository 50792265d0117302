/**
 * Power model benchmark: Monte-Carlo years per second (local stack and a generated
 * 1,000-host datacenter) and N-1 analysis time for 1,000 hosts, each against the issue's
 * target. Run: `npx tsx bench/power/bench.ts` (numbers go into bench/power/README.md).
 */
import { loadPlan } from "../../cli/stack";
import { estimateAvailability, nMinusOne } from "../../components/power";
import { generatedDatacenter } from "./generate";

function time<T>(fn: () => T): { ms: number; value: T } {
  const start = performance.now();
  const value = fn();
  return { ms: performance.now() - start, value };
}

function report(name: string, measuredMs: number, targetMs: number, extra: string): void {
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

// A run has a fixed part (topology, tier rules: ~0.5 s at 1,000 hosts) and a per-year part;
// two lengths separate them.
const short = time(() => estimateAvailability(big.spec, big.plan, { years: 10, seed: 1 }));
const long = time(() => estimateAvailability(big.spec, big.plan, { years: 110, seed: 1 }));
const perYear = (long.ms - short.ms) / 100;
console.log(
  `${"Monte-Carlo, 1,000 hosts, 110 years".padEnd(44)} measured ${long.ms.toFixed(0).padStart(6)} ms   ${(1000 / perYear).toFixed(1)} years/s marginal, ${(110 / (long.ms / 1000)).toFixed(1)} years/s overall (no target in the issue)`,
);
