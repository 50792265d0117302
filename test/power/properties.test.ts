/**
 * Properties over randomly generated datacenters (fast-check, bounded runs).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { estimateAvailability, poweredHosts, powerTopology, serviceStates, simulateScenario } from "../../components/power";
import { planDatacenter } from "../../components/plan";
import { parseSpec } from "../../components/spec/validate";
import type { DatacenterSpecInput } from "../../components/spec/schema";

interface Shape {
  feeds: { ups: boolean; gen: boolean; upsKw: number; runtime: number; delay: number }[];
  racks: { pdus: { feed: number; kw: number }[] }[];
  hosts: { rack: number; psus: number[]; watts: number }[];
  services: { replicas: number; min: number }[];
}

const shape: fc.Arbitrary<Shape> = fc
  .record({
    feeds: fc.array(
      fc.record({
        ups: fc.boolean(),
        gen: fc.boolean(),
        upsKw: fc.integer({ min: 1, max: 50 }),
        runtime: fc.integer({ min: 1, max: 30 }),
        delay: fc.integer({ min: 0, max: 120 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    racks: fc.array(fc.record({ pdus: fc.array(fc.record({ feed: fc.nat(), kw: fc.integer({ min: 1, max: 20 }) }), { minLength: 1, maxLength: 2 }) }), {
      minLength: 1,
      maxLength: 3,
    }),
    hosts: fc.array(
      fc.record({ rack: fc.nat(), psus: fc.uniqueArray(fc.nat({ max: 1 }), { minLength: 1, maxLength: 2 }), watts: fc.integer({ min: 100, max: 3000 }) }),
      { minLength: 1, maxLength: 6 },
    ),
    services: fc.array(fc.record({ replicas: fc.integer({ min: 1, max: 3 }), min: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 3 }),
  })
  .map((s) => ({
    ...s,
    racks: s.racks.map((r) => ({ pdus: r.pdus.map((p) => ({ ...p, feed: p.feed % s.feeds.length })) })),
    hosts: s.hosts.map((h) => ({ ...h, rack: h.rack % s.racks.length })),
  }));

/** The spec for a shape; `extraFeed` adds feed Z and gives every single-PSU host a second PSU on it. */
function specOf(s: Shape, extraFeed = false): DatacenterSpecInput {
  const feedId = (i: number) => String.fromCharCode(65 + i);
  const feeds: DatacenterSpecInput["feeds"] = s.feeds.map((f, i) => ({
    id: feedId(i),
    utility: { capacityKw: 100 },
    ...(f.ups ? { ups: { capacityKw: f.upsKw, runtimeMinutes: f.runtime } } : {}),
    ...(f.gen ? { generator: { capacityKw: 100, startDelaySeconds: f.delay, fuelHours: 100000, startFailureProbability: 0.1 } } : {}),
  }));
  if (extraFeed)
    feeds.push({
      id: "Z",
      utility: { capacityKw: 1000 },
      ups: { capacityKw: 1000, runtimeMinutes: 10 },
      generator: { capacityKw: 1000, startDelaySeconds: 10, fuelHours: 100000 },
    });
  return {
    name: "p",
    domain: "p.park.test",
    feeds,
    racks: s.racks.map((r, ri) => ({
      id: `r${ri}`,
      pdus: [
        ...r.pdus.map((p, pi) => ({ id: `r${ri}-p${pi}`, feed: feedId(p.feed), capacityKw: p.kw })),
        ...(extraFeed ? [{ id: `r${ri}-z`, feed: "Z", capacityKw: 1000 }] : []),
      ],
    })),
    hosts: s.hosts.map((h, hi) => {
      const pdus = s.racks[h.rack]!.pdus;
      const psus = [...new Set(h.psus.map((p) => `r${h.rack}-p${p % pdus.length}`))];
      if (extraFeed && psus.length === 1) psus.push(`r${h.rack}-z`);
      return {
        id: `h${hi}`,
        rack: `r${h.rack}`,
        kind: "virtualization" as const,
        psus,
        capacity: { cpus: 64, memoryGb: 256, diskGb: 4000 },
        powerWatts: h.watts,
      };
    }),
    plans: [{ id: "small", kind: "vps", cpus: 1, memoryGb: 1, diskGb: 10 }],
    networks: [
      { id: "private", cidr: "10.42.1.0/24", exposure: "internal" },
      { id: "mgmt", cidr: "10.42.2.0/24", exposure: "management" },
    ],
    services: s.services.map((svc, i) => {
      const replicas = Math.min(svc.replicas, s.hosts.length);
      return { id: `s${i}`, role: "web" as const, replicas, minReplicas: Math.min(svc.min, replicas), plan: "small", networks: ["private"] };
    }),
  };
}

describe("power model properties", () => {
  it("adding a redundant feed never lowers any service's availability", () => {
    fc.assert(
      fc.property(shape, fc.integer({ min: 1, max: 1000 }), (s, seed) => {
        const base = parseSpec(specOf(s));
        const plan = planDatacenter(base);
        const more = parseSpec(specOf(s, true));
        // Busy rates so that a handful of years see plenty of failures.
        const rates = {
          rates: {
            utility: { failuresPerYear: 20, meanRepairHours: 5 },
            generator: { failuresPerYear: 5 },
            pdu: { failuresPerYear: 3 },
            ups: { failuresPerYear: 3 },
          },
        };
        const a = estimateAvailability(base, plan, { years: 5, seed, rates });
        const b = estimateAvailability(more, plan, { years: 5, seed, rates });
        a.services.forEach((svc, i) => expect(b.services[i]!.availability.mean).toBeGreaterThanOrEqual(svc.availability.mean - 1e-12));
        expect(b.sitePowerAvailability.mean).toBeGreaterThanOrEqual(a.sitePowerAvailability.mean - 1e-12);
      }),
      { numRuns: 40, seed: 7 },
    );
  });

  it("the simulation settles where the steady-state evaluation says, and dark hosts run nothing", () => {
    fc.assert(
      fc.property(shape, fc.array(fc.nat(), { maxLength: 4 }), (s, picks) => {
        const spec = parseSpec(specOf(s));
        const plan = planDatacenter(spec);
        const topology = powerTopology(spec);
        const failed = [...new Set(picks.map((p) => topology.components[p % topology.components.length]!.id))];
        const steady = poweredHosts(topology, failed);
        if (failed.length > 0) {
          const run = simulateScenario(spec, plan, { generatorStart: "ok", duration: 1e7, events: failed.map((fail) => ({ at: 0, fail })) });
          const settled = run.hosts.filter((h) => h.segments[h.segments.length - 1]!.state.powered).map((h) => h.host);
          expect(settled).toEqual([...steady]);
        }
        const hostOf = new Map(plan.replicas.map((r) => [r.id, r.host]));
        for (const state of serviceStates(plan, steady)) {
          for (const r of state.running) expect(steady.has(hostOf.get(r)!)).toBe(true);
          const expected = plan.services.find((x) => x.id === state.service)!.replicas.filter((r) => steady.has(hostOf.get(r)!)).length;
          expect(state.running.length).toBe(expected);
          expect(state.up).toBe(expected >= state.needed);
        }
      }),
      { numRuns: 150, seed: 11 },
    );
  });

  it("with instant generators and no UPS, every moment of a simulation equals the steady state of what is failed then", () => {
    // Exercises the simulator's incremental host path against full evaluations.
    fc.assert(
      fc.property(
        shape,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 20 })), { minLength: 1, maxLength: 12 }),
        (s, picks) => {
          const instant = { ...s, feeds: s.feeds.map((f) => ({ ...f, ups: false, gen: true, delay: 0 })) };
          const spec = parseSpec(specOf(instant));
          const plan = planDatacenter(spec);
          const topology = powerTopology(spec);
          // Mostly hosts, like a Monte-Carlo year; each failure is repaired after its duration.
          const events = picks.map(([p, at, dur]) => {
            const hostsFirst = p % 3 !== 0 ? topology.hosts[p % topology.hosts.length]!.component : p % topology.components.length;
            return { at: at * 60, fail: topology.components[hostsFirst]!.id, for: dur * 60 };
          });
          const run = simulateScenario(spec, plan, { generatorStart: "ok", duration: 3600, events });
          const times = [...new Set([0, ...events.flatMap((e) => [e.at, e.at + e.for])])].filter((t) => t < 3600);
          for (const t of times) {
            const failedNow = new Set<string>();
            // Same semantics as the simulator: repairs and failures in time order, repairs first at a tie.
            const timeline = events
              .flatMap((e) => [
                { at: e.at, id: e.fail, down: true },
                { at: e.at + e.for, id: e.fail, down: false },
              ])
              .sort((a, b) => a.at - b.at || Number(a.down) - Number(b.down));
            for (const e of timeline) {
              if (e.at > t) continue;
              if (e.down) failedNow.add(e.id);
              else failedNow.delete(e.id);
            }
            const steady = poweredHosts(topology, failedNow);
            const simulated = run.hosts.filter((h) => h.segments.find((seg) => seg.from <= t && t < seg.to)!.state.powered).map((h) => h.host);
            expect(simulated).toEqual([...steady]);
          }
        },
      ),
      { numRuns: 150, seed: 5 },
    );
  });

  it("with ample capacity, failing more components never powers more hosts", () => {
    fc.assert(
      fc.property(shape, fc.array(fc.nat(), { maxLength: 5 }), fc.nat(), (s, picks, extra) => {
        const ample = { ...s, racks: s.racks.map((r) => ({ pdus: r.pdus.map((p) => ({ ...p, kw: 1000 })) })) };
        const topology = powerTopology(parseSpec(specOf(ample)));
        const ids = topology.components.map((c) => c.id);
        const failed = picks.map((p) => ids[p % ids.length]!);
        const fewer = poweredHosts(topology, failed);
        const more = poweredHosts(topology, [...failed, ids[extra % ids.length]!]);
        for (const h of more) expect(fewer.has(h)).toBe(true);
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});
