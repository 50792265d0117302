/**
 * Zone building was optimised (issue 21): records are no longer sorted by a built key string
 * and deduplicated through a set of keys. This checks the new code against that former
 * definition, kept here as the reference, on random record sets — names chosen to hit the
 * awkward orders (a label that is a prefix of another, `-` and `_` sorting around the dot,
 * duplicates with other TTLs) — through the public `zonesWithRecords`.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ExtraRecord } from "../../contracts/settings/dns";
import { extraRecord, zonesWithRecords } from "../../components/plan/dns";
import type { DnsRecord, DnsZone } from "../../components/plan/types";

const ORIGIN = "park.test";
const TYPE_ORDER = ["SOA", "NS", "MX", "TXT", "SRV", "A", "AAAA", "CNAME", "PTR"];
const dataKey = (r: DnsRecord) => (typeof r.data === "string" ? r.data : JSON.stringify(r.data));

/** The zone as the planner defined it before the optimisation. */
function referenceZone(origin: string, ns: readonly string[], records: readonly DnsRecord[]): DnsZone {
  const seen = new Set<string>();
  const unique = records.filter((r) => {
    const key = `${r.name}|${r.type}|${dataKey(r)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const keyed = unique.map((r) => ({
    r,
    key: `${r.name.split(".").reverse().join(".")}\u0000${String(TYPE_ORDER.indexOf(r.type)).padStart(2, "0")}\u0000${dataKey(r)}`,
  }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const body = keyed.map((k) => k.r);
  const hash = createHash("sha256");
  for (const r of body) hash.update(`${r.name} ${r.type} ${r.ttl} ${dataKey(r)}\n`);
  const serial = hash.digest().readUInt32BE(0) >>> 1;
  const soa: DnsRecord = {
    name: origin,
    ttl: 300,
    type: "SOA",
    data: { mname: ns[0] ?? `ns1.${origin}`, rname: `hostmaster.${origin}`, serial, refresh: 3600, retry: 600, expire: 1209600, minimum: 60 },
  };
  return { origin, records: [soa, ...body] };
}

const label = fc.constantFrom("a", "b", "ab", "a-b", "a_b", "a0", "b-", "x", "ns1", "www", "*");
const name = fc.oneof(
  fc.constant("@"),
  fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join(".")),
);
const ttl = fc.constantFrom(60, 300);
const target = fc.oneof(name, fc.constantFrom("mail.other.example.", "x.y."));
const record: fc.Arbitrary<ExtraRecord> = fc.oneof(
  fc.record({ name, ttl, type: fc.constant("A" as const), data: fc.constantFrom("10.0.0.1", "10.0.0.2", "10.0.0.10") }),
  fc.record({ name, ttl, type: fc.constantFrom("CNAME" as const, "NS" as const, "PTR" as const), data: target }),
  fc.record({ name, ttl, type: fc.constant("MX" as const), data: fc.record({ preference: fc.constantFrom(5, 10), exchange: target }) }),
  fc.record({ name, ttl, type: fc.constant("TXT" as const), data: fc.array(fc.constantFrom("v=spf1 -all", "a", "b"), { minLength: 1, maxLength: 2 }) }),
  fc.record({
    name,
    ttl,
    type: fc.constant("SRV" as const),
    data: fc.record({ priority: fc.constant(0), weight: fc.constantFrom(1, 2), port: fc.constantFrom(80, 443), target }),
  }),
);

describe("zone records: order, duplicates and SOA serial", () => {
  it("are what the former definition gives, for random record sets", () => {
    const base: DnsZone[] = [{ origin: ORIGIN, records: [referenceZone(ORIGIN, [`ns1.${ORIGIN}`], []).records[0]!] }];
    fc.assert(
      fc.property(fc.array(record, { maxLength: 60 }), (extra) => {
        const [zone] = zonesWithRecords(base, extra);
        const expected = referenceZone(
          ORIGIN,
          [`ns1.${ORIGIN}`],
          extra.map((r) => extraRecord(r, ORIGIN)),
        );
        expect(zone).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
