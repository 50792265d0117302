/**
 * The planner: table tests on the local stack and property tests (fast-check) on generated
 * datacenters for determinism, unique addresses, capacity, anti-affinity and stability.
 */
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { planDatacenter, tryPlanDatacenter, type DatacenterPlan } from "../../components/plan";
import { parseCidr, parseIp, cidrContains, type Cidr } from "../../components/net/ipv4";
import { loadStackFile } from "../../components/spec/load";
import type { DatacenterSpec, DatacenterSpecInput } from "../../components/spec/schema";
import { validateSpec } from "../../components/spec/validate";
import { allocateHostPorts, type HostPorts } from "../../components/targets/docker/hostPorts";
import { generateSpec } from "../support/generateSpec";

const localSpec = () => {
  const r = validateSpec(loadStackFile("local").config["serverpark:datacenter"]);
  if (!r.ok) throw new Error("local stack invalid");
  return r.spec;
};

function parse(input: DatacenterSpecInput): DatacenterSpec {
  const r = validateSpec(input);
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"));
  return r.spec;
}

/** A small random datacenter: 1–4 racks, 2–12 hosts, 0–8 services. */
const specArb = fc
  .record({
    racks: fc.integer({ min: 1, max: 4 }),
    hosts: fc.array(fc.record({ rack: fc.nat(), dedicated: fc.boolean(), dual: fc.boolean(), cpus: fc.constantFrom(4, 8, 16) }), {
      minLength: 2,
      maxLength: 12,
    }),
    services: fc.array(fc.record({ role: fc.constantFrom("web", "proxy", "dns", "db", "mail"), replicas: fc.integer({ min: 1, max: 3 }), big: fc.boolean() }), {
      maxLength: 8,
    }),
  })
  .map(({ racks, hosts, services }) => {
    const spec = generateSpec({ hosts: 1, services: 0 });
    return {
      ...spec,
      racks: Array.from({ length: racks }, (_, r) => ({
        id: `r${r + 1}`,
        pdus: [
          { id: `r${r + 1}-a`, feed: "A", capacityKw: 10 },
          { id: `r${r + 1}-b`, feed: "B", capacityKw: 10 },
        ],
      })),
      hosts: hosts.map((h, i) => {
        const rack = `r${(h.rack % racks) + 1}`;
        return {
          id: `h${i + 1}`,
          rack,
          // The first two hosts are one of each kind, so every plan has somewhere to go.
          kind: (i === 1 || (i > 1 && h.dedicated) ? "dedicated" : "virtualization") as "dedicated" | "virtualization",
          psus: h.dual ? [`${rack}-a`, `${rack}-b`] : [i % 2 ? `${rack}-a` : `${rack}-b`],
          capacity: { cpus: h.cpus, memoryGb: h.cpus * 4, diskGb: 2000 },
        };
      }),
      plans: [
        { id: "vps-s", kind: "vps" as const, cpus: 1, memoryGb: 1, diskGb: 20 },
        { id: "vps-l", kind: "vps" as const, cpus: 8, memoryGb: 16, diskGb: 200 },
        { id: "ded", kind: "dedicated" as const, cpus: 4, memoryGb: 8, diskGb: 500 },
      ],
      services: services.map((s, i) => ({
        id: `s${i}`,
        role: s.role,
        replicas: s.replicas,
        plan: s.role === "db" ? "ded" : s.big ? "vps-l" : "vps-s",
        networks: s.role === "db" ? ["private"] : ["public", "private"],
      })),
    } satisfies DatacenterSpecInput;
  });

/** Specs that validate and plan; others are rejected cases the table tests cover. */
function plannable(input: DatacenterSpecInput): { spec: DatacenterSpec; plan: DatacenterPlan } | undefined {
  const v = validateSpec(input);
  if (!v.ok) return undefined;
  const p = tryPlanDatacenter(v.spec);
  return p.ok ? { spec: v.spec, plan: p.plan } : undefined;
}

function hostPortsOf(spec: DatacenterSpec, plan: DatacenterPlan, locked?: Readonly<Record<string, number>>): HostPorts {
  const result = allocateHostPorts(spec.docker, plan, locked);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.ports;
}

function checkInvariants(spec: DatacenterSpec, plan: DatacenterPlan): void {
  // Addresses: unique per network, inside the CIDR, never the network, gateway or broadcast.
  for (const net of plan.networks) {
    const cidr = parseCidr(net.cidr) as Cidr;
    const seen = new Set<string>();
    for (const m of net.members) {
      expect(seen.has(m.address), `${m.address} twice on ${net.id}`).toBe(false);
      seen.add(m.address);
      const ip = parseIp(m.address)!;
      expect(cidrContains(cidr, ip)).toBe(true);
      expect(ip).toBeGreaterThan(cidr.base + 1);
      expect(ip).toBeLessThan(cidr.base + cidr.size - 1);
    }
  }
  // The Docker target's host ports: one per published port number of a replica, all different.
  const ports = Object.values(hostPortsOf(spec, plan).lock);
  expect(ports.length).toBe(plan.replicas.reduce((n, r) => n + new Set(r.published.map((p) => p.port)).size, 0));
  expect(new Set(ports).size).toBe(ports.length);
  // Capacity and dedicated exclusivity.
  for (const h of plan.hosts) {
    expect(h.allocated.cpus).toBeLessThanOrEqual(h.cpuLimit + 1e-9);
    expect(h.allocated.memoryGb).toBeLessThanOrEqual(h.capacity.memoryGb + 1e-9);
    expect(h.allocated.diskGb).toBeLessThanOrEqual(h.capacity.diskGb + 1e-9);
    if (h.kind === "dedicated") expect(h.replicas.length).toBeLessThanOrEqual(1);
  }
  // Host anti-affinity and kind: never two replicas of a service on one host.
  const hostKind = new Map(plan.hosts.map((h) => [h.id, h.kind]));
  const plans = new Map(spec.plans.map((p) => [p.id, p]));
  for (const svc of plan.services) {
    // An HA db group's monitor included: it never shares a host with a data node.
    const hosts = plan.replicas.filter((r) => r.service === svc.id).map((r) => r.host);
    expect(new Set(hosts).size).toBe(hosts.length);
    const kind = plans.get(svc.plan)!.kind === "vps" ? "virtualization" : "dedicated";
    for (const id of svc.replicas) expect(hostKind.get(plan.replicas.find((r) => r.id === id)!.host)).toBe(kind);
    // db with two or more replicas is an HA group with exactly one monitor, outside `replicas`; nothing else has one.
    const monitors = plan.replicas.filter((r) => r.service === svc.id && r.part === "monitor").map((r) => r.id);
    expect(monitors).toEqual(svc.role === "db" && svc.replicas.length >= 2 ? [`${svc.id}-monitor`] : []);
    expect(svc.ha?.monitor).toBe(monitors[0]);
    expect(svc.replicas).not.toContain(monitors[0]);
  }
}

describe("planner on the local stack", () => {
  const plan = planDatacenter(localSpec());

  it("spreads redundant services over two racks, and the db group's monitor into a third", () => {
    for (const svc of plan.services.filter((s) => s.replicas.length === 2)) {
      const racks = plan.replicas.filter((r) => svc.replicas.includes(r.id)).map((r) => r.rack);
      expect(new Set(racks).size, svc.id).toBe(2);
    }
    const db = plan.replicas.filter((r) => r.service === "db");
    expect(new Set(db.map((r) => r.rack)).size).toBe(3);
  });

  it("publishes internet ports of internet-facing services and the NOC to operators only", () => {
    const published = (id: string) => plan.replicas.find((r) => r.id === id)!.published;
    expect(published("edge-0").map((p) => p.port)).toEqual([80, 443]);
    expect(published("www-0")).toEqual([]);
    expect(published("db-0")).toEqual([]);
    expect(published("noc-0").map((p) => p.audience)).toEqual(["operator"]);
    const hostPorts = hostPortsOf(localSpec(), plan);
    expect(new Set(plan.replicas.flatMap((r) => hostPorts.byReplica.get(r.id)!.map((p) => p.hostAddress)))).toEqual(new Set(["127.0.0.1"]));
  });

  it("keeps the database's port off the internet network in the exposure matrix", () => {
    for (const e of plan.exposure.filter((x) => x.service === "db" || (x.service === "files" && x.port === "management"))) {
      expect(e.reachableFrom).not.toContain("public");
      expect(e.publishedTo).toBe("none");
    }
    // The file service holds the local stack's customers' accounts: SFTP, FTP and its passive ports face the internet.
    const files = plan.exposure.filter((x) => x.service === "files" && x.port !== "management");
    expect(files.map((e) => e.port)).toEqual(["sftp", "ftp", ...Array.from({ length: 10 }, (_, i) => `ftp-passive-${30000 + i}`)]);
    for (const e of files) expect(e.publishedTo).toBe("internet");
  });

  it("derives a DNS zone with SOA, NS, MX and PTR records", () => {
    // The datacenter's zones; the local stack's customers' zones follow them (test/unit/customers.test.ts).
    const [forward, ...reverse] = plan.zones.filter((z) => z.origin.endsWith("fra1.park.test") || z.origin.endsWith(".arpa"));
    expect(forward!.origin).toBe("fra1.park.test");
    expect(forward!.records[0]!.type).toBe("SOA");
    expect(forward!.records.filter((r) => r.type === "NS").map((r) => r.data)).toEqual(["ns1.fra1.park.test", "ns2.fra1.park.test"]);
    expect(forward!.records.find((r) => r.type === "MX")?.data).toEqual({ preference: 10, exchange: "mail.fra1.park.test" });
    expect(forward!.records).toContainEqual({
      name: "www-0.private.fra1.park.test",
      ttl: 300,
      type: "A",
      data: plan.replicas.find((r) => r.id === "www-0")!.addresses.private,
    });
    expect(reverse.map((z) => z.origin)).toEqual(["0.42.10.in-addr.arpa", "1.42.10.in-addr.arpa", "2.42.10.in-addr.arpa"]);
  });

  it("matches the committed lock, so a plan of the unchanged stack changes nothing", () => {
    const lock = JSON.parse(readFileSync("stacks/Pulumi.local.lock.json", "utf8"));
    const again = planDatacenter(localSpec(), lock);
    expect({ ...again.lock, ports: hostPortsOf(localSpec(), again, lock.ports).lock }).toEqual(lock);
  });

  it("moves a locked replica only when its host is gone, and says so", () => {
    const spec = localSpec();
    const lock = plan.lock;
    const gone = plan.replicas.find((r) => r.id === "www-0")!.host;
    const next = planDatacenter({ ...spec, hosts: spec.hosts.filter((h) => h.id !== gone) }, lock);
    expect(next.notes.map((n) => n.message).join("\n")).toMatch(new RegExp(`replica www-0 MOVES: its host ${gone} no longer exists`));
    for (const r of next.replicas.filter((x) => lock.placement[x.id] !== gone)) expect(r.host).toBe(lock.placement[r.id]);
    expect(next.replicas.find((r) => r.id === "www-0")!.host).not.toBe(gone);
  });

  it("reports a replica that fits nowhere with the config path", () => {
    const spec = localSpec();
    // 40 GB small VPSes: www and edge fill all four virtualization hosts, ns finds no room.
    const big = { ...spec, plans: spec.plans.map((p) => (p.id === "vps-s" ? { ...p, memoryGb: 40 } : p)) };
    const result = tryPlanDatacenter(big);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toContainEqual(
      expect.stringMatching(/^services\.2\.replicas: cannot place replica ns-0: no virtualization host has room/),
    );
  });
});

describe("planner properties", () => {
  it("is deterministic and keeps every invariant", () => {
    fc.assert(
      fc.property(specArb, (input) => {
        const ok = plannable(input);
        fc.pre(ok !== undefined);
        checkInvariants(ok!.spec, ok!.plan);
        expect(planDatacenter(ok!.spec)).toEqual(ok!.plan);
      }),
      { numRuns: 100 },
    );
  });

  it("never moves a replica, address or port when hosts and services are added", () => {
    fc.assert(
      fc.property(specArb, specArb, fc.nat(), (base, extra, at) => {
        const before = plannable(base);
        fc.pre(before !== undefined);
        // Insert the extra hosts anywhere in the list and append the extra services.
        const hosts = [...base.hosts];
        const added = extra.hosts.map((h, i) => ({
          ...h,
          id: `x${i}`,
          rack: base.racks[i % base.racks.length]!.id,
          psus: [`${base.racks[i % base.racks.length]!.id}-a`],
        }));
        hosts.splice(at % (hosts.length + 1), 0, ...added);
        const services = [...base.services, ...extra.services.map((s, i) => ({ ...s, id: `y${i}` }))];
        const grown = validateSpec({ ...base, hosts, services });
        fc.pre(grown.ok);
        const after = tryPlanDatacenter((grown as { spec: DatacenterSpec }).spec, before!.plan.lock);
        fc.pre(after.ok);
        const next = (after as { plan: DatacenterPlan }).plan;
        checkInvariants((grown as { spec: DatacenterSpec }).spec, next);
        const portsBefore = hostPortsOf(before!.spec, before!.plan);
        const portsAfter = hostPortsOf((grown as { spec: DatacenterSpec }).spec, next, portsBefore.lock);
        expect(next.notes).toEqual([]);
        for (const r of before!.plan.replicas) {
          const now = next.replicas.find((x) => x.id === r.id)!;
          expect(now.host).toBe(r.host);
          expect(now.addresses).toEqual(r.addresses);
          expect(now.published).toEqual(r.published);
          expect(portsAfter.byReplica.get(r.id)).toEqual(portsBefore.byReplica.get(r.id));
        }
        for (const h of before!.plan.hosts) expect(next.hosts.find((x) => x.id === h.id)!.addresses).toEqual(h.addresses);
      }),
      { numRuns: 100 },
    );
  });

  it("spreads two replicas over two racks whenever both racks have room", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), (racks) => {
        const spec = parse({
          ...generateSpec({ hosts: racks * 10, services: 0 }),
          services: [{ id: "www", role: "web", replicas: 2, plan: "vps-s", networks: ["private"] }],
        });
        const plan = planDatacenter(spec);
        const used = plan.replicas.map((r) => r.rack);
        expect(new Set(used).size).toBe(2);
      }),
      { numRuns: 20 },
    );
  });

  it("plans generated datacenters of 100 hosts within every invariant", () => {
    const spec = parse(generateSpec({ hosts: 100 }));
    checkInvariants(spec, planDatacenter(spec));
  });
});
