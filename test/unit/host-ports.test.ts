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
