/**
 * The NOC on real Docker: published on 127.0.0.1 only, behind its generated password, probing
 * the booted datacenter over the management network, and seeing arena-0 go down when its
 * container stops (restarted afterwards). Its own database login works with psql and runs the
 * probe's SELECT 1 on every data node of the highly available db (the primary and the
 * standby; the pg_auto_failover monitor is probed for an answer, having no login for the NOC); the proxy is probed over HTTPS as a site name its certificate carries,
 * verified by the datacenter CA; the file service over SSH and over FTP with AUTH TLS.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Agent } from "undici";
import { afterAll, expect, it } from "vitest";
import { sleep } from "../game/helpers";
import { haveTools } from "../mail/support";
import { mockPassword } from "../support/mockCredentials";
import { dbReplicas } from "./dbGroup";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();
const docker = async (...args: string[]) => (await run("docker", args, { timeout: 60_000 })).stdout.trim();

interface Status {
  rounds: number;
  replicas: Record<string, string>;
  probes: { replica: string; port: string; kind: string; state: string; detail: string; reason?: string }[];
  power?: { hosts: Record<string, { state: string; detail: string }> };
}

describeE2e("NOC on Docker", () => {
  const noc = () => dc.replica("noc-0");
  // The page is HTTPS with the replica's certificate (it names 127.0.0.1), verified by the datacenter CA.
  const url = (path: string) => `https://127.0.0.1:${noc().published["8080/tcp"]}${path}`;
  let trusting: Agent | undefined;
  const fetch = async (target: string, init: { headers?: Record<string, string> } = {}) => {
    trusting ??= new Agent({ connect: { ca: await docker("exec", noc().name, "cat", "/etc/serverpark/tls/ca.crt") } });
    return globalThis.fetch(target, { ...init, dispatcher: trusting } as RequestInit);
  };
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
    // The db group's monitor: up because it answers over TLS and refuses the NOC's login (it keeps none).
    const monitor = dbReplicas(dc).monitor.replica!;
    const watched = await until((x) => x.probes.some((p) => p.replica === monitor && p.state === "up"), 60_000);
    expect(watched.probes.find((p) => p.replica === monitor)).toMatchObject({ port: "postgres", state: "up", kind: "postgres-answers" });
    console.log(`NOC view of the e2e datacenter: ${JSON.stringify(s.replicas)}`);
    for (const p of s.probes.filter((x) => x.state !== "up")) console.log(`  ${p.replica}/${p.port}: ${p.state} (${p.detail})`);
  });

  it("logs in to every db data node with its own login and runs SELECT 1 (the primary and the standby alike)", async () => {
    const nodes = dbReplicas(dc).dataNodes;
    expect(nodes.map((c) => c.replica)).toEqual(["db-0", "db-1"]);
    const s = await until((x) => nodes.every((n) => x.probes.some((p) => p.replica === n.replica && p.state === "up")), 60_000);
    for (const n of nodes) {
      const probe = s.probes.find((p) => p.replica === n.replica && p.port === "postgres")!;
      expect(probe, n.replica).toMatchObject({ state: "up", kind: "sql-select-1", detail: "SELECT 1 = 1 as noc@postgres" });
    }
    if (!haveTools("psql")) return;
    const password = mockPassword(`${dc.datacenter}-noc-db-login`, 32);
    for (const n of nodes) {
      // The same login from a real client: its one database only, on each node (the standby has it by replication).
      const psql = (database: string, pw: string) =>
        run("psql", ["-w", "-h", n.addresses.private!, "-U", "noc", "-d", database, "-At", "-c", "SELECT current_user"], {
          env: { ...process.env, PGPASSWORD: pw, PGCONNECT_TIMEOUT: "10" },
          timeout: 30_000,
        });
      expect((await psql("postgres", password)).stdout.trim(), n.name).toBe("noc");
      await expect(psql("app", password), n.name).rejects.toThrow(/permission denied for database "app"/);
      await expect(psql("postgres", `${password}x`), n.name).rejects.toThrow(/password authentication failed for user "noc"/);
      // The data node holds only the verifier.
      const login = await docker("exec", n.name, "cat", "/etc/serverpark/secrets/db-probe-login.json");
      expect(login, n.name).toMatch(/"verifier":"SCRAM-SHA-256\$4096:/);
      expect(login, n.name).not.toContain(password);
    }
  });

  it("reaches the proxy over HTTPS as a site on its certificate (name check on), and over HTTP, and the web servers directly", async () => {
    const s = await until((x) => x.probes.filter((p) => p.replica.startsWith("edge-")).every((p) => p.state === "up"), 40_000);
    // The hosting customers' sites through the proxy are probes of their own (customers.e2e.test.ts).
    for (const p of s.probes.filter((x) => x.replica.startsWith("edge-") && x.kind !== "customer-site")) {
      expect(p.kind).toBe(`${p.port}-via-proxy`);
      expect(p.detail).toContain(`via proxy (Host www.${dc.domain})`);
      if (p.port === "https") expect(p.detail).toContain(`TLS verified as www.${dc.domain}`);
    }
    expect(s.probes.filter((x) => x.replica.startsWith("www-") && x.port === "http").map((p) => [p.kind, p.state])).toEqual([
      ["http", "up"],
      ["http", "up"],
    ]);
  });

  it("probes the file service over SSH, and FTP's control port only (no passive data ports)", async () => {
    const s = await until((x) => x.probes.some((p) => p.replica === "files-0" && p.port === "sftp" && p.state === "up"), 40_000);
    const files = s.probes.filter((p) => p.replica === "files-0");
    expect(files.map((p) => p.port).sort()).toEqual(["ftp", "sftp"]);
    console.log(`files-0 as the NOC sees it: ${JSON.stringify(files.map((p) => [p.port, p.state, p.detail]))}`);
  });

  it("finds FTP with AUTH TLS on the file service, its certificate verified", async () => {
    const s = await until((x) => x.probes.some((p) => p.replica === "files-0" && p.port === "ftp" && p.state === "up"), 40_000);
    const ftp = s.probes.find((p) => p.replica === "files-0" && p.port === "ftp")!;
    expect(ftp.kind).toBe("ftp-auth-tls");
    expect(ftp.detail).toMatch(new RegExp(`^220, AUTH TLS 234, TLSv1\\.[23] verified as files\\.${dc.domain.replaceAll(".", "\\.")}, QUIT 221`));
  });

  it("reads every host agent's power over the management plane (mutual TLS as the NOC) and shows each host powered", async () => {
    const hosts = dc.containers.filter((c) => c.kind === "host").map((c) => c.host);
    expect(hosts.length).toBeGreaterThan(0);
    // A poll a second: "unknown" until the first answers (an agent that refused the NOC's certificate would stay unknown).
    const seen = await until((s) => hosts.every((h) => s.power?.hosts[h]?.state === "powered"), 30_000);
    expect(Object.keys(seen.power!.hosts).sort()).toEqual([...hosts].sort());
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
