/**
 * Seeded random streams. The generator is pure-rand's xoroshiro128+ (maintained, already in
 * the tree through fast-check); what is ours is how streams are split: every component and
 * every feed's generator starts draw from their own stream, seeded from the run's seed and
 * the component id. Adding a component therefore never changes another component's draws
 * ("common random numbers"), so comparing two datacenters with the same seed compares the
 * designs, not the luck — and "adding a redundant feed never lowers availability" holds
 * exactly, not just on average.
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

/** FNV-1a over `seed:name`: a stable 32-bit seed per named stream. */
export function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  const text = `${seed}:${name}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** A uniform [0, 1) function for the named stream. */
export function stream(seed: number, name: string): () => number {
  const rng = xoroshiro128plus(streamSeed(seed, name));
  return () => uniformFloat64(rng);
}
