/**
 * A db service with two or more replicas is a highly available group (components/plan/ha.ts):
 * the plan adds its pg_auto_failover monitor on a host of its own, away from the data nodes'
 * racks and feeds when it can; DNS gives the service's name to the data nodes only; each
 * member's runtime config carries its HA view (contracts/views/db.ts). A db with one replica
 * stays as it was.
 */
import { describe, expect, it } from "vitest";
import { replicaRuntimeConfigSchema } from "../../contracts/runtimeConfig";
import { replicaLaunch } from "../../components/model/launch";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { planDatacenter, tryPlanDatacenter, type DatacenterPlan } from "../../components/plan";
import { loadStackFile } from "../../components/spec/load";
import type { DatacenterSpec, DatacenterSpecInput } from "../../components/spec/schema";
import { settingsOf } from "../../components/spec/roleSettings";
import { validateSpec } from "../../components/spec/validate";
import { clientUri, haClientRules } from "../../images/db/src/ha/app";

type Input = { services: { id: string; replicas?: number }[]; hosts: { kind: string }[]; plans: { kind: string }[]; racks: unknown[] };

/** The local stack's spec, with `edit` applied to a copy of its input. */
function localWith(edit: (input: Input) => void): DatacenterSpec {
  const input = structuredClone(loadStackFile("local").config["serverpark:datacenter"]) as Input;
  edit(input);
  const r = validateSpec(input as unknown as DatacenterSpecInput);
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"));
  return r.spec;
}
const dbReplicas = (n: number) => (input: Input) => void (input.services.find((s) => s.id === "db")!.replicas = n);
/** Only the dedicated hosts, their plan and the db service. */
function onlyDedicated(input: Input): void {
  input.hosts = input.hosts.filter((h) => h.kind === "dedicated");
  input.plans = input.plans.filter((p) => p.kind === "dedicated");
  input.services = input.services.filter((s) => s.id === "db");
  (input.services[0] as { backup?: { targetHost: string } }).backup!.targetHost = "h7"; // h8, the witness, is gone
  (input as { customers?: unknown[] }).customers = []; // their file, web, proxy and dns services are gone
}
const replica = (plan: DatacenterPlan, id: string) => plan.replicas.find((r) => r.id === id)!;
const host = (plan: DatacenterPlan, id: string) => plan.hosts.find((h) => h.id === id)!;

describe("db with replicas: 2 in the plan", () => {
  const plan = planDatacenter(localWith(dbReplicas(2)));
  const db = plan.services.find((s) => s.id === "db")!;

  it("is two data nodes and one monitor that shares no host with them", () => {
    expect(db.replicas).toEqual(["db-0", "db-1"]);
    expect(db.ha).toEqual({ monitor: "db-monitor" });
    const monitor = replica(plan, "db-monitor");
    expect(monitor).toMatchObject({ part: "monitor", service: "db", role: "db", published: [], resources: { cpus: 0.25, memoryGb: 0.25, diskGb: 1 } });
    const dataHosts = db.replicas.map((id) => replica(plan, id).host);
    expect(dataHosts).not.toContain(monitor.host);
    // The data nodes (dedicated plan) are in both racks; the monitor takes a dual-fed virtualization host.
    expect(new Set(db.replicas.map((id) => replica(plan, id).rack)).size).toBe(2);
    expect(host(plan, monitor.host)).toMatchObject({ kind: "virtualization", feeds: ["A", "B"] });
    expect(host(plan, monitor.host).replicas).toContain("db-monitor");
    expect(plan.lock.placement["db-monitor"]).toBe(monitor.host);
    // Attached like the service: its networks and the management network.
    expect(Object.keys(monitor.addresses).sort()).toEqual(Object.keys(replica(plan, "db-0").addresses).sort());
  });

  it("prefers a rack and feed the data nodes do not use", () => {
    const spec = localWith((input) => {
      dbReplicas(2)(input);
      // The local stack's own witness (h8, dual-fed, rack r3) replaced by one fed by A alone.
      input.racks = input.racks.filter((r) => (r as { id: string }).id !== "r3");
      input.hosts = input.hosts.filter((h) => (h as unknown as { id: string }).id !== "h8");
      (input.services.find((s) => s.id === "db") as { backup?: { targetHost: string } }).backup!.targetHost = "h7";
      input.racks.push({ id: "r3", pdus: [{ id: "r3-pdu-a", feed: "A", capacityKw: 5 }] });
      input.hosts.push({
        id: "h8",
        rack: "r3",
        kind: "virtualization",
        psus: ["r3-pdu-a"],
        capacity: { cpus: 4, memoryGb: 8, diskGb: 100 },
        powerWatts: 150,
      } as Input["hosts"][number]);
    });
    const p = planDatacenter(spec);
    // A rack of its own counts before a feed of its own: h8 shares feed A with h3 (both fed by A alone), every other
    // host shares a rack with a data node.
    const monitor = replica(p, "db-monitor");
    const dataRacks = p.services.find((s) => s.id === "db")!.replicas.map((id) => replica(p, id).rack);
    expect(dataRacks).not.toContain(monitor.rack);
    expect(monitor.host).toBe("h8");
  });

  it("keeps the monitor where the lock put it when hosts and services are added", () => {
    const before = planDatacenter(localWith(dbReplicas(2)));
    const after = planDatacenter(
      localWith((input) => {
        dbReplicas(2)(input);
        input.hosts.unshift({
          id: "h0",
          rack: "r1",
          kind: "virtualization",
          psus: ["r1-pdu-a", "r1-pdu-b"],
          capacity: { cpus: 16, memoryGb: 64, diskGb: 2000 },
          powerWatts: 450,
        } as Input["hosts"][number]);
        input.services.push({ id: "www2", role: "web", replicas: 2, plan: "vps-s", networks: ["private"] } as Input["services"][number]);
      }),
      before.lock,
    );
    expect(replica(after, "db-monitor").host).toBe(replica(before, "db-monitor").host);
    expect(replica(after, "db-monitor").addresses).toEqual(replica(before, "db-monitor").addresses);
  });

  it("is refused with the reason when no host can take the monitor", () => {
    const spec = localWith((input) => {
      dbReplicas(2)(input);
      // Only dedicated hosts, each holding a data node or another service: nowhere for the monitor.
      onlyDedicated(input);
    });
    const r = tryPlanDatacenter(spec);
    // Three dedicated hosts: two data nodes, and the third (empty) takes the monitor.
    expect(r.ok).toBe(true);
    const crowded = localWith((input) => {
      dbReplicas(3)(input);
      onlyDedicated(input);
    });
    const refused = tryPlanDatacenter(crowded);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.issues.map((i) => i.message).join("\n")).toMatch(/cannot place the monitor db-monitor of the highly available db/);
  });

  it("gives the service's DNS name to the data nodes only; the monitor has its own", () => {
    const records = plan.zones[0]!.records.filter((r) => r.type === "A");
    const addresses = (name: string) => records.filter((r) => r.name === name).map((r) => r.data);
    const data = db.replicas.map((id) => replica(plan, id).addresses.private!);
    expect(addresses("db.private.fra1.park.test").sort()).toEqual([...data].sort());
    expect(addresses("db-monitor.private.fra1.park.test")).toEqual([replica(plan, "db-monitor").addresses.private]);
  });

  it("tells each member its part, the monitor's address and the data nodes' in its runtime config", () => {
    const address = (id: string) => replica(plan, id).addresses.private!;
    const nodes = [
      { name: "db-0", host: address("db-0"), port: 5432 },
      { name: "db-1", host: address("db-1"), port: 5432 },
    ];
    const monitor = { host: address("db-monitor"), port: 5432 };
    for (const id of ["db-0", "db-1", "db-monitor"]) {
      const config = replicaRuntimeConfigSchema.parse(replicaRuntimeConfig(plan, replica(plan, id), db));
      expect(config.ha).toEqual({ part: id === "db-monitor" ? "monitor" : "postgres", name: id, hostname: address(id), monitor, nodes });
      expect(config.replica).toBe(id);
    }
  });

  it("is what a data node hands out as its clients' connection string: every data node, read-write sessions, verify-full", () => {
    const view = replicaRuntimeConfigSchema.parse(replicaRuntimeConfig(plan, replica(plan, "db-1"), db)).ha!;
    const hosts = db.replicas.map((id) => `${replica(plan, id).addresses.private}:5432`).join(",");
    expect(clientUri(view, settingsOf(db, "db"))).toBe(`postgresql://app@${hosts}/app?target_session_attrs=read-write&sslmode=verify-full&connect_timeout=2`);
    // The members' own pg_hba: TLS only, and the superuser never over the network, before any SCRAM rule.
    const rules = haClientRules("node");
    expect(rules.indexOf("hostssl all node all reject")).toBeLessThan(rules.findIndex((r) => r.endsWith("scram-sha-256")));
    expect(rules[0]).toBe("hostnossl all all all reject");
  });

  it("gives the data nodes a backup volume and the monitor none", () => {
    const volumes = (id: string) => replicaLaunch(plan, replica(plan, id), db, [], []).volumes.map((v) => v.kind);
    expect(volumes("db-0")).toEqual(["data", "backup"]);
    expect(volumes("db-monitor")).toEqual(["data"]);
    expect(replicaLaunch(plan, replica(plan, "db-0"), db, [], []).env.SP_BACKUP_DIR).toBeDefined();
    expect(replicaLaunch(plan, replica(plan, "db-monitor"), db, [], []).env.SP_BACKUP_DIR).toBeUndefined();
  });
});

describe("db with replicas: 1", () => {
  const plan = planDatacenter(
    localWith((input) => {
      dbReplicas(1)(input);
      delete (input.services.find((s) => s.id === "db") as { redundant?: boolean }).redundant;
    }),
  );
  it("has no monitor and no HA view", () => {
    const db = plan.services.find((s) => s.id === "db")!;
    expect(db.ha).toBeUndefined();
    expect(plan.replicas.filter((r) => r.part === "monitor")).toEqual([]);
    expect(replicaRuntimeConfig(plan, replica(plan, "db-0"), db).ha).toBeUndefined();
  });
});
