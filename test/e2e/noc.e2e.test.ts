/**
 * The NOC on real Docker: published on 127.0.0.1 only, behind its generated password, probing
 * the booted datacenter over the management network, and seeing arena-0 go down when its
 * container stops (restarted afterwards).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { sleep } from "../game/helpers";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();
const docker = async (...args: string[]) => (await run("docker", args, { timeout: 60_000 })).stdout.trim();

interface Status {
  rounds: number;
  replicas: Record<string, string>;
  probes: { replica: string; port: string; state: string; detail: string }[];
}

describeE2e("NOC on Docker", () => {
  const noc = () => dc.replica("noc-0");
  const url = (path: string) => `http://127.0.0.1:${noc().published["8080/tcp"]}${path}`;
  let password = "";
  const headers = () => ({ authorization: `Basic ${Buffer.from(`operator:${password}`).toString("base64")}` });
  const status = async () => (await (await fetch(url("/api/status"), { headers: headers() })).json()) as Status;
  /** Polls the status until `test` holds (probe interval 10 s, timeout 2 s). */
  const until = async (test: (s: Status) => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    let last: Status | undefined;
    while (Date.now() < deadline) {
      last = await status();
      if (test(last)) return last;
      await sleep(1000);
    }
    throw new Error(`status never matched; last: ${JSON.stringify(last?.replicas)}`);
  };
  afterAll(async () => {
    await docker("start", dc.replica("arena-0").name).catch(() => undefined);
  });

  it("is healthy and published on 127.0.0.1 only", async () => {
    expect(noc().health, noc().name).toBe("healthy");
    const bindings = JSON.parse(await docker("inspect", "-f", "{{json .HostConfig.PortBindings}}", noc().name)) as Record<string, { HostIp: string }[]>;
    for (const list of Object.values(bindings)) for (const b of list) expect(b.HostIp).toBe("127.0.0.1");
  });

  it("requires the generated password", async () => {
    expect((await fetch(url("/"))).status).toBe(401);
    password = await docker("exec", noc().name, "cat", "/etc/serverpark/secrets/noc-password");
    expect(password).toMatch(/^[A-Za-z0-9]{24}$/);
    const page = await fetch(url("/"), { headers: headers() });
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const h of dc.plan.hosts as { id: string }[]) expect(html).toContain(`data-host="${h.id}"`);
  });

  it("probes every deployed replica and finds the game up", async () => {
    const s = await until((x) => x.rounds > 0 && x.replicas["arena-0"] === "up", 40_000);
    const deployed = dc.containers.filter((c) => c.kind === "replica" && c.role !== "noc").map((c) => c.replica!);
    for (const id of deployed) expect(Object.keys(s.replicas)).toContain(id);
    console.log(`NOC view of the e2e datacenter: ${JSON.stringify(s.replicas)}`);
    for (const p of s.probes.filter((x) => x.state !== "up")) console.log(`  ${p.replica}/${p.port}: ${p.state} (${p.detail})`);
  });

  it("shows arena-0 down when its container stops", async () => {
    const arena = dc.replica("arena-0");
    await docker("stop", "-t", "5", arena.name);
    try {
      const s = await until((x) => x.replicas["arena-0"] === "down", 40_000);
      expect(s.probes.find((p) => p.replica === "arena-0")!.state).toBe("down");
      const svg = await (await fetch(url("/diagram.svg"), { headers: headers() })).text();
      expect(svg).toMatch(/class="replica st-down"[^>]*data-replica="arena-0"/);
    } finally {
      await docker("start", arena.name);
    }
  });
});
