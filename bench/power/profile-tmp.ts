import { estimateAvailability } from "../../components/power";
import { generatedDatacenter } from "./generate";
const big = generatedDatacenter(1000);
const t = performance.now();
estimateAvailability(big.spec, big.plan, { years: 20, seed: 1 });
console.log(performance.now() - t);
