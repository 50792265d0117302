/**
 * The plan derives, each role gets its own view (ARCHITECTURE.md "How data flows"): settings
 * parsed once and carried by the plan; the proxy's routes, the NOC's targets and the dns
 * zones resolved on the program side; networks chosen by their declared exposure; and no
 * replica receiving the directory of every service or every host.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { replicaLaunch } from "../../components/model/launch";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { proxyView } from "../../components/model/proxyView";
import { planDatacenter, tryPlanDatacenter, type DatacenterPlan } from "../../components/plan";
import { loadStackFile } from "../../components/spec/load";
import { settingsOf } from "../../components/spec/roleSettings";
import { formatPath } from "../../components/spec/issues";
import { parseSpec, validateSpec } from "../../components/spec/validate";
import { ROLE_VIEW_PATH, RUNTIME_CONFIG_PATH } from "../../contracts/paths";
import { replicaRuntimeConfigSchema } from "../../contracts/runtimeConfig";
import { generateSpec } from "../support/generateSpec";

const local = loadStackFile("local").config["serverpark:datacenter"] as Record<string, any>;

function planOf(mutate: (spec: Record<string, any>) => void = () => {}): DatacenterPlan {
  const raw = structuredClone(local);
  mutate(raw);
  const result = validateSpec(raw);
  if (!result.ok) throw new Error(result.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join("\n"));
  return planDatacenter(result.spec);
}

const configOf = (plan: DatacenterPlan, replicaId: string) => {
  const replica = plan.replicas.find((r) => r.id === replicaId)!;
  return replicaRuntimeConfig(
    plan,
    replica,
    plan.services.find((s) => s.id === replica.service)!,
  );
};
const service = (spec: Record<string, any>, id: string) => (spec.services as { id: string; settings?: Record<string, unknown> }[]).find((s) => s.id === id)!;
const soaSerial = (plan: DatacenterPlan, replicaId: string) => {
  const soa = configOf(plan, replicaId).zones![0]!.records.find((r) => r.type === "SOA")!;
  return (soa.data as { serial: number }).serial;
};

describe("settings parsed once", () => {
  it("validation parses each service's settings with its role's schema; the plan carries the result, defaults applied", () => {
    const plan = planOf();
    const noc = plan.services.find((s) => s.role === "noc")!;
    // The stack sets three of the NOC's settings; the parsed ones carry the defaults too.
    expect(noc.settings).toEqual({ intervalMs: 10000, timeoutMs: 2000, historyMinutes: 60 });
    expect(settingsOf(noc, "noc")).toMatchObject({ intervalMs: 10000, username: "operator", dbUser: "noc", concurrency: 16 });
    const mail = plan.services.find((s) => s.role === "mail")!;
    expect(Array.isArray(settingsOf(mail, "mail").users)).toBe(true);
  });

  it("refuses to guess: settings never validated, or asked for as another role, throw", () => {
    const result = validateSpec(structuredClone(local), { roleSettings: false });
    if (!result.ok) throw new Error("local stack invalid");
    const plan = planDatacenter(result.spec);
    const mail = plan.services.find((s) => s.role === "mail")!;
    expect(mail.roleSettings).toBeUndefined();
    expect(() => settingsOf(mail, "mail")).toThrow(/were not validated/);
    expect(() =>
      settingsOf(
        planOf().services.find((s) => s.role === "mail")!,
        "web",
      ),
    ).toThrow(/is a mail service, not web/);
  });
});

describe("the proxy's view", () => {
  it("carries its resolved routes and no directory or hosts; certificate names come from the same routes", () => {
    const plan = planOf();
    const config = configOf(plan, "edge-0");
    expect(Object.keys(config)).not.toContain("directory");
    expect(Object.keys(config)).not.toContain("hosts");
    const www = plan.replicas.filter((r) => r.service === "www");
    const route = config.routes!.find((r) => r.hosts[0] === "www.fra1.park.test")!;
    expect(route.upstreams).toEqual(www.map((r) => ({ id: r.id, host: r.addresses.private, port: 8080 })));
    const edge = plan.services.find((s) => s.id === "edge")!;
    expect(proxyView(plan, edge).certificateNames).toEqual([...new Set(config.routes!.flatMap((r) => r.hosts))].sort());
    expect(replicaRuntimeConfigSchema.safeParse(JSON.parse(JSON.stringify(config))).success).toBe(true);
  });

  it("configured routes name explicit servers or a service's replicas on the named port", () => {
    const plan = planOf((spec) => {
      service(spec, "edge").settings = {
        routes: [
          { hosts: ["shop.test"], servers: ["192.0.2.10:8080"] },
          { hosts: ["play.test"], service: "arena", port: "game" },
        ],
      };
    });
    const routes = configOf(plan, "edge-1").routes!;
    expect(routes[0]!.upstreams).toEqual([{ id: "192.0.2.10:8080", host: "192.0.2.10", port: 8080 }]);
    const arena = plan.replicas.find((r) => r.service === "arena")!;
    expect(routes[1]!.upstreams).toEqual([{ id: arena.id, host: arena.addresses.private, port: 7350 }]);
  });

  it("a route to a service the proxy shares no network with is a spec error, not a server crash", () => {
    const raw = structuredClone(local);
    service(raw, "edge").settings = { routes: [{ hosts: ["x.test"], service: "noc" }] };
    (raw.services as { id: string; networks: string[]; management?: boolean }[]).find((s) => s.id === "edge")!.management = false;
    const result = validateSpec(raw);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues.map((i) => `${formatPath(i.path)}: ${i.message}`)).toContainEqual(
      expect.stringMatching(/routes\[0\]\.service: service "noc" shares no network with this proxy/),
    );
  });
});

describe("networks by their declared exposure, not their id", () => {
  // The management network renamed: nothing may still look for "mgmt".
  const renamed = planOf((spec) => {
    for (const n of spec.networks as { id: string }[]) if (n.id === "mgmt") n.id = "ops";
    for (const s of spec.services as { networks: string[] }[]) s.networks = s.networks.map((n) => (n === "mgmt" ? "ops" : n));
  });

  it("every replica's view names each network's exposure", () => {
    expect(configOf(renamed, "www-0").networks).toEqual({
      ops: { cidr: "10.42.2.0/24", exposure: "management" },
      private: { cidr: "10.42.1.0/24", exposure: "internal" },
    });
  });

  it("the NOC probes over the management network and the proxy routes around it, whatever its id", () => {
    const noc = configOf(renamed, "noc-0").noc!;
    const www0 = renamed.replicas.find((r) => r.id === "www-0")!;
    expect(noc.targets.filter((t) => t.replica === "www-0").map((t) => t.address)).toEqual([www0.addresses.ops, www0.addresses.ops]);
    const upstream = configOf(renamed, "edge-0").routes!.find((r) => r.hosts[0] === "www.fra1.park.test")!.upstreams[0]!;
    expect(upstream).toEqual({ id: "www-0", host: www0.addresses.private, port: 8080 });
  });
});

describe("the NOC's view", () => {
  it("lists probe targets and the diagram model, without a directory or host list of its own", () => {
    const plan = planOf();
    const config = configOf(plan, "noc-0");
    expect(Object.keys(config)).not.toContain("directory");
    expect(config.noc!.diagram.hosts.map((h) => h.id)).toEqual(plan.hosts.map((h) => h.id));
    expect(config.noc!.targets.some((t) => t.service === "noc")).toBe(false);
    expect(new Set(config.noc!.targets.map((t) => t.service))).toEqual(new Set(plan.services.filter((s) => s.role !== "noc").map((s) => s.id)));
  });

  it("other roles get no view of the datacenter at all", () => {
    const plan = planOf();
    for (const id of ["www-0", "mail-0", "files-0", "db-0", "arena-0"]) {
      const config = configOf(plan, id);
      expect(config.routes ?? config.noc ?? config.zones, id).toBeUndefined();
      expect(config.addresses).toEqual(plan.replicas.find((r) => r.id === id)!.addresses);
    }
  });
});

describe("dns zones, final before the serial", () => {
  it("a change of the dns service's records alone changes the SOA serial of the zone holding them", () => {
    const before = planOf();
    const after = planOf((spec) => {
      service(spec, "ns").settings = { ...(service(spec, "ns").settings ?? {}), records: [{ name: "shop", type: "CNAME", data: "www" }] };
    });
    expect(after.zones).toEqual(before.zones); // the plan's own zones did not change…
    const zone = configOf(after, "ns-0").zones![0]!;
    expect(zone.records).toContainEqual({ name: "shop.fra1.park.test", ttl: 300, type: "CNAME", data: "www.fra1.park.test" });
    expect(soaSerial(after, "ns-0")).not.toBe(soaSerial(before, "ns-0")); // …but the served zone and its serial did
    // Reverse zones without new records keep their serial.
    expect(configOf(after, "ns-0").zones!.slice(1)).toEqual(configOf(before, "ns-0").zones!.slice(1));
  });

  it("a TTL-only change of a record changes the serial too", () => {
    const withTtl = (ttl: number) =>
      planOf((spec) => {
        service(spec, "ns").settings = { records: [{ name: "shop", type: "CNAME", data: "www", ttl }] };
      });
    expect(soaSerial(withTtl(60), "ns-0")).not.toBe(soaSerial(withTtl(120), "ns-0"));
  });

  it("a record outside every zone is a plan issue with its path", () => {
    const raw = structuredClone(local);
    service(raw, "ns").settings = { records: [{ name: "elsewhere.example.", type: "A", data: "192.0.2.1" }] };
    const validated = validateSpec(raw);
    if (!validated.ok) throw new Error("validation should pass: the zones are the plan's");
    const planned = tryPlanDatacenter(validated.spec);
    expect(planned.ok).toBe(false);
    expect(!planned.ok && planned.issues.map((i) => `${formatPath(i.path)}: ${i.message}`)).toEqual([
      expect.stringMatching(/^services\[\d+\]\.settings\.records\[0\]\.name: elsewhere\.example is outside every zone/),
    ]);
  });
});

describe("views that grow with the datacenter are files beside a small config", () => {
  it("at 1,000 generated hosts every replica's config stays under 1 KiB; dns services with the same zones share one view file", () => {
    const plan = planDatacenter(parseSpec(generateSpec({ hosts: 1000 })));
    const services = new Map(plan.services.map((s) => [s.id, s]));
    let largest = 0;
    const viewsByRole = new Map<string, Set<string>>();
    for (const r of plan.replicas) {
      const files = replicaLaunch(plan, r, services.get(r.service)!, [], []).files;
      largest = Math.max(largest, String(files.find((f) => f.path === RUNTIME_CONFIG_PATH)!.content).length);
      for (const f of files) {
        if (!f.source) continue;
        expect(f.path).toBe(ROLE_VIEW_PATH);
        expect(createHash("sha256").update(readFileSync(f.source.path)).digest("hex")).toBe(f.source.sha256);
        viewsByRole.set(r.role, (viewsByRole.get(r.role) ?? new Set()).add(f.source.sha256));
      }
    }
    expect(largest).toBeLessThan(1024);
    expect([...viewsByRole.keys()].sort()).toEqual(["dns", "noc", "proxy"]);
    // Every dns service serves the plan's zones (none has records of its own): one file.
    expect(viewsByRole.get("dns")!.size).toBe(1);
    // Each NOC watches every service but its own: one file per NOC service.
    expect(viewsByRole.get("noc")!.size).toBe(plan.services.filter((s) => s.role === "noc").length);
  });
});
