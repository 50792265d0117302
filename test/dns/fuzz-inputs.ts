/**
 * Seeded DNS fuzz inputs shared by the unit fuzz test (test/dns/dns-fuzz.test.ts, 10,000
 * inputs) and the long fuzzer (bench/fuzz/dns.fuzz.ts): mutated real queries, truncations,
 * lying counts, compression-pointer loops, random bytes, oversized labels.
 */
import * as packet from "dns-packet";

/** The same seeded PRNG (mulberry32) as the HTTP generators, so every run sends the same inputs. */
export { rng } from "../web/malformed";

export const SEEDS = [
  packet.encode({ type: "query", id: 1, flags: packet.RECURSION_DESIRED, questions: [{ type: "A", name: "edge.fra1.park.test" }] }),
  packet.encode({
    type: "query",
    id: 2,
    questions: [{ type: "TXT", name: "big.fra1.park.test" }],
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096 } as unknown as packet.Answer],
  }),
  packet.encode({ type: "query", id: 3, questions: [{ type: "PTR", name: "10.0.42.10.in-addr.arpa" }] }),
];

export function malformed(random: () => number, i: number): Buffer {
  const seed = SEEDS[i % SEEDS.length]!;
  const kind = i % 6;
  const buf = Buffer.from(seed);
  switch (kind) {
    case 0: // flip some bits
      for (let k = 0; k < 1 + Math.floor(random() * 6); k++) buf[Math.floor(random() * buf.length)]! ^= 1 << Math.floor(random() * 8);
      return buf;
    case 1: // truncate anywhere
      return buf.subarray(0, Math.floor(random() * buf.length));
    case 2: // lie about section counts
      buf.writeUInt16BE(Math.floor(random() * 65536), 4 + 2 * Math.floor(random() * 4));
      return buf;
    case 3: // compression pointer loop in the question name
      buf[12] = 0xc0;
      buf[13] = 12;
      return buf;
    case 4: // random bytes of random length
      return Buffer.from(Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256)));
    default: // oversized label lengths / garbage appended
      buf[12] = 63 + Math.floor(random() * 192);
      return Buffer.concat([buf, Buffer.alloc(Math.floor(random() * 40), 0xff)]);
  }
}
