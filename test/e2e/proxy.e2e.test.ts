/**
 * The whole chain on real Docker, from the host: our DNS resolves the site's name to the
 * proxy, the proxy serves it from the web replicas (HTTP and HTTPS with the datacenter
 * CA); one web replica stopped, the site stays up.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { dig } from "../dns/fixture";
import { curl } from "../web/curl";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();

async function waitHealthy(name: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const { stdout } = await run("docker", ["inspect", "-f", "{{.State.Health.Status}}", name]);
    if (stdout.trim() === "healthy") return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${name} did not become healthy within 60 s`);
}

/** www.<domain> through our DNS: the CNAME to edge and edge's addresses. */
async function resolveSite(): Promise<{ site: string; addresses: string[] }> {
  const site = `www.${dc.domain}`;
  const answer = await dig(dc.replica("ns-0").published["53/udp"]!, [site, "A"]);
  expect(answer.status).toBe("NOERROR");
  const addresses = answer.answer.filter((l) => / IN A /.test(l)).map((l) => l.split(" ").pop()!);
  expect(addresses.length).toBeGreaterThan(0);
  return { site, addresses };
}

describeE2e("proxy replicas on Docker", () => {
  it("are healthy: every route has a healthy upstream", async () => {
    for (const id of ["edge-0", "edge-1"]) expect(dc.replica(id).health, id).toBe("healthy");
  });

  it("a name resolved by our DNS leads to the proxy, which serves the site from the web replicas", async () => {
    const { site, addresses } = await resolveSite();
    const servedBy = new Set<string>();
    for (const address of addresses) {
      for (let i = 0; i < 4; i++) {
        // no-cache: past the proxy's cache (the page is cacheable), so the replicas answer.
        const r = await curl(["--resolve", `${site}:80:${address}`, "-H", "Cache-Control: no-cache", `http://${site}/`]);
        expect(r.status, r.stderr).toBe(200);
        expect(r.body.toString()).toContain(`<h1>${site}</h1>`);
        servedBy.add(r.headers["x-served-by"]!);
      }
    }
    expect([...servedBy].sort()).toEqual(["www-0", "www-1"]);
  });

  it("terminates TLS for the site with a certificate from the datacenter CA", async () => {
    const { site, addresses } = await resolveSite();
    const { stdout: ca } = await run("docker", ["exec", dc.replica("edge-0").name, "cat", "/etc/serverpark/tls/ca.crt"]);
    const caFile = join(mkdtempSync(join(tmpdir(), "sp-e2e-ca-")), "ca.crt");
    writeFileSync(caFile, ca);
    const r = await curl(["--resolve", `${site}:443:${addresses[0]}`, "--cacert", caFile, `https://${site}/`]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.status).toBe(200);
  });

  it("keeps the site up while one web replica is stopped", async () => {
    const { site, addresses } = await resolveSite();
    const stopped = dc.replica("www-0").name;
    await run("docker", ["stop", "-t", "2", stopped]);
    try {
      const statuses: number[] = [];
      const servers = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const r = await curl(["--resolve", `${site}:80:${addresses[i % addresses.length]}`, "-H", "Cache-Control: no-cache", `http://${site}/`]);
        statuses.push(r.status);
        servers.add(r.headers["x-served-by"] ?? "?");
      }
      expect(
        statuses.every((s) => s === 200),
        statuses.join(","),
      ).toBe(true);
      expect([...servers]).toEqual(["www-1"]);
      // And clients that accept cached copies are served from the proxy's cache meanwhile.
      const cached = await curl(["--resolve", `${site}:80:${addresses[0]}`, `http://${site}/`]);
      expect(cached.status).toBe(200);
    } finally {
      await run("docker", ["start", stopped]);
      await waitHealthy(stopped);
    }
  });
});
