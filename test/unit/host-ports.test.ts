/**
 * The Docker target's host ports (components/targets/docker/hostPorts.ts) moved out of the
 * plan: the lock files committed before the move must still load and give every published
 * port the host port they record, and the module must keep ports stable on its own.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { planDatacenter } from "../../components/plan";
import { parseLock, renderLock } from "../../components/plan/lock";
import { loadStackFile } from "../../components/spec/load";
import { validateSpec } from "../../components/spec/validate";
import type { DatacenterSpec } from "../../components/spec/schema";
import { allocateHostPorts } from "../../components/targets/docker/hostPorts";
import { e2eConfig } from "../e2e/globalSetup";

function specOf(stack: string): DatacenterSpec {
  const result = validateSpec(loadStackFile(stack).config["serverpark:datacenter"]);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.spec;
}

describe("Docker host ports", () => {
  it.each(["local", "hetzner"])("keeps every port the committed %s lock records, and writes the same lock back", (stack) => {
    const text = readFileSync(`stacks/Pulumi.${stack}.lock.json`, "utf8");
    const lock = parseLock(text, stack);
    expect(Object.keys(lock.ports).length).toBeGreaterThan(0);
    const spec = specOf(stack);
    const plan = planDatacenter(spec, lock);
    const result = allocateHostPorts(spec.docker, plan, lock.ports);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    for (const r of plan.replicas) {
      for (const p of result.ports.byReplica.get(r.id)!) expect(p.hostPort, `${r.id}:${p.port}`).toBe(lock.ports[`${r.id}:${p.port}`]);
    }
    expect(renderLock({ ...plan.lock, ports: result.ports.lock })).toBe(text);
  });

  it("keeps locked ports and gives a new replica the lowest free one", () => {
    const spec = specOf("local");
    const plan = planDatacenter(spec);
    const first = allocateHostPorts(spec.docker, plan);
    if (!first.ok) throw new Error("allocation failed");
    // Pretend edge-0's ports were locked high up: they stay there, and the rest fill from basePort.
    const locked = { ...first.ports.lock, "edge-0:80": 40000, "edge-0:443": 40001 };
    const again = allocateHostPorts(spec.docker, plan, locked);
    if (!again.ok) throw new Error("allocation failed");
    expect(again.ports.lock).toEqual(locked);
    const freed = allocateHostPorts(spec.docker, plan, { "edge-0:80": 40000 });
    if (!freed.ok) throw new Error("allocation failed");
    expect(freed.ports.lock["edge-0:80"]).toBe(40000);
    expect(freed.ports.lock["edge-0:443"]).toBe(spec.docker.basePort);
  });

  it("binds a port published over TCP and UDP once, on the publish address", () => {
    const spec = specOf("local");
    const plan = planDatacenter(spec);
    const result = allocateHostPorts(spec.docker, plan);
    if (!result.ok) throw new Error("allocation failed");
    const dns = plan.replicas.find((r) => r.role === "dns" && r.published.length > 1)!;
    const ports = result.ports.byReplica.get(dns.id)!;
    expect(new Set(ports.map((p) => p.protocol))).toEqual(new Set(["tcp", "udp"]));
    expect(new Set(ports.map((p) => p.hostPort)).size).toBe(new Set(ports.map((p) => p.port)).size);
    expect(new Set(ports.map((p) => p.hostAddress))).toEqual(new Set([spec.docker.publishAddress]));
  });

  it("says which setting to change when the ports run out", () => {
    const spec = specOf("local");
    const plan = planDatacenter(spec);
    const result = allocateHostPorts({ ...spec.docker, basePort: 65534 }, plan);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues).toEqual([{ path: ["docker", "basePort"], message: expect.stringMatching(/not enough host ports above 65534/) }]);
  });
});

describe("FTP's passive ports on the Docker target", () => {
  /** A stack's host ports: every one, and each replica's passive run. */
  function hostPortsOf(spec: DatacenterSpec, locked: Record<string, number>) {
    const plan = planDatacenter(spec);
    const result = allocateHostPorts(spec.docker, plan, locked);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const all = Object.values(result.ports.lock);
    const passive = [...result.ports.byReplica.values()]
      .map((ports) => ports.filter((p) => p.sameNumber).map((p) => p.hostPort))
      .filter((run) => run.length > 0);
    return { all, passive, byReplica: result.ports.byReplica };
  }

  it("gives two stacks on one engine (the local datacenter and the e2e one) host ports that do not overlap, passive ports included", () => {
    const local = hostPortsOf(specOf("local"), parseLock(readFileSync("stacks/Pulumi.local.lock.json", "utf8"), "local").ports);
    const e2eResult = validateSpec(e2eConfig()["serverpark:datacenter"]);
    if (!e2eResult.ok) throw new Error(JSON.stringify(e2eResult.issues));
    const e2e = hostPortsOf(e2eResult.spec, {});
    for (const stack of [local, e2e]) {
      // One file replica with the catalogue's ten passive ports, on an unbroken run of host ports.
      expect(stack.passive).toHaveLength(1);
      expect(stack.passive[0]!.map((port) => port - stack.passive[0]![0]!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(new Set(stack.all).size).toBe(stack.all.length);
    }
    expect(local.all.filter((port) => e2e.all.includes(port))).toEqual([]);
    // Each stack's ports lie from its base port up, packed.
    expect(Math.min(...local.all)).toBe(20000);
    expect(Math.max(...local.all)).toBe(20000 + local.all.length - 1);
    expect(Math.min(...e2e.all)).toBe(31000);
    expect(Math.max(...e2e.all)).toBe(31000 + e2e.all.length - 1);
  });

  it("keeps a locked passive run only whole and unbroken, and gives each replica a run of its own", () => {
    const passive = (id: string) => ({
      id,
      published: Array.from({ length: 3 }, (_, i) => ({
        name: `ftp-passive-${30000 + i}`,
        port: 30000 + i,
        protocol: "tcp" as const,
        audience: "internet" as const,
        sameNumber: true as const,
      })),
    });
    const plan = { replicas: [passive("a-0"), passive("b-0")] } as unknown as Parameters<typeof allocateHostPorts>[1];
    const docker = { publishAddress: "127.0.0.1", basePort: 40000 };
    const runOf = (result: ReturnType<typeof allocateHostPorts>, id: string) => (result.ok ? result.ports.byReplica.get(id)!.map((p) => p.hostPort) : []);
    const fresh = allocateHostPorts(docker, plan);
    expect(fresh.ok).toBe(true);
    expect([runOf(fresh, "a-0"), runOf(fresh, "b-0")]).toEqual([
      [40000, 40001, 40002],
      [40003, 40004, 40005],
    ]);
    // A locked run stays where it is; one that is broken (an edited lock) moves as a whole to the lowest free stretch.
    const locked = { "a-0:30000": 40100, "a-0:30001": 40101, "a-0:30002": 40102, "b-0:30000": 40003, "b-0:30001": 40005, "b-0:30002": 40006 };
    const again = allocateHostPorts(docker, plan, locked);
    expect([runOf(again, "a-0"), runOf(again, "b-0")]).toEqual([
      [40100, 40101, 40102],
      [40000, 40001, 40002],
    ]);
  });
});
