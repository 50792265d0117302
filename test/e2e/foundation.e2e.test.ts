/**
 * The foundation on real Docker: host agents up on their planned addresses, internal
 * networks without a way out, and the private network unable to reach management.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();

async function docker(...args: string[]): Promise<string> {
  return (await run("docker", args, { timeout: 60_000 })).stdout.trim();
}

/**
 * Runs a throwaway container on one network that tries a TCP connect and prints
 * "open" or the error code. Removed afterwards even when the assertion fails.
 */
async function tryConnect(network: string, address: string, port: number): Promise<string> {
  const name = `${dc.datacenter}-probe-${process.pid}-${Date.now().toString(36)}`;
  const script = `const s=require("net").connect({host:${JSON.stringify(address)},port:${port},timeout:3000});s.on("connect",()=>{console.log("open");process.exit(0)});s.on("timeout",()=>{console.log("timeout");process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(0)});`;
  try {
    return await docker("run", "--rm", "--name", name, "--label", "serverpark.e2e-probe=1", "--network", network, "--entrypoint", "node", "node:24-bookworm-slim", "-e", script);
  } finally {
    await run("docker", ["rm", "-f", name]).catch(() => undefined);
  }
}

describeE2e("local datacenter on Docker", () => {
  it("runs a healthy agent per host on its planned management address", async () => {
    for (const host of dc.plan.hosts as { id: string; addresses: Record<string, string> }[]) {
      const agent = dc.host(host.id);
      expect(agent.health, agent.name).toBe("healthy");
      const ip = await docker("inspect", "-f", `{{(index .NetworkSettings.Networks "${dc.networks.mgmt}").IPAddress}}`, agent.name);
      expect(ip).toBe(host.addresses.mgmt);
    }
  });

  it("reports each host's identity and power from its agent", async () => {
    const agent = dc.host("h3");
    const out = await docker("exec", agent.name, "node", "-e", "fetch('http://127.0.0.1:9100/identity').then(r=>r.text()).then(t=>console.log(t))");
    expect(JSON.parse(out)).toMatchObject({ host: "h3", rack: "r1", kind: "dedicated" });
  });

  it("gives containers on internal networks no default route", async () => {
    const agent = dc.host("h1"); // attached to the management network only
    const routes = await docker("exec", agent.name, "cat", "/proc/net/route");
    const destinations = routes.split("\n").slice(1).map((line) => line.trim().split(/\s+/)[1]);
    expect(destinations.length).toBeGreaterThan(0);
    expect(destinations).not.toContain("00000000");
  });

  it("keeps the private network away from management listeners", async () => {
    const target = dc.host("h2").addresses.mgmt!;
    // Positive control: from the management network the agent answers...
    expect(await tryConnect(dc.networks.mgmt!, target, 9100)).toBe("open");
    // ...from the private network it cannot be reached at all.
    expect(await tryConnect(dc.networks.private!, target, 9100)).not.toBe("open");
  });

  it("names every container after the datacenter and labels it with its place", async () => {
    const names = (await docker("ps", "--filter", `label=serverpark.datacenter=${dc.datacenter}`, "--format", "{{.Names}}")).split("\n").sort();
    expect(names).toEqual(dc.containers.map((c) => c.name).sort());
    const labels = JSON.parse(await docker("inspect", "-f", "{{json .Config.Labels}}", dc.host("h6").name));
    expect(labels).toMatchObject({ "serverpark.rack": "r2", "serverpark.feeds": "B", "serverpark.kind": "host" });
  });
});
