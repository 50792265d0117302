/** The web replicas on real Docker: healthy, hardened, serving their default site over HTTP and HTTPS (datacenter CA). */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();

/** Runs node inside the container (the images carry no curl): prints status, served-by and body start. */
async function fetchInside(container: string, url: string, host: string): Promise<string> {
  const script = `
    process.env.NODE_EXTRA_CA_CERTS;
    const https = require("node:https"), http = require("node:http"), fs = require("node:fs");
    const u = new URL(${JSON.stringify(url)});
    const lib = u.protocol === "https:" ? https : http;
    const req = lib.get(u, { headers: { host: ${JSON.stringify(host)} }, servername: ${JSON.stringify(host)}, ca: u.protocol === "https:" ? fs.readFileSync("/etc/serverpark/tls/ca.crt") : undefined }, (res) => {
      let body = ""; res.on("data", (c) => body += c); res.on("end", () => console.log(res.statusCode, res.headers["x-served-by"], body.slice(0, 400).replace(/\\n/g, " ")));
    });
    req.on("error", (e) => { console.log("ERR", e.code || e.message); process.exit(1); });`;
  const { stdout } = await run("docker", ["exec", container, "node", "-e", script], { timeout: 20_000 });
  return stdout.trim();
}

describeE2e("web replicas on Docker", () => {
  it("are healthy, run as uid 1000 with every capability dropped", async () => {
    for (const id of ["www-0", "www-1"]) {
      const web = dc.replica(id);
      expect(web.health, web.name).toBe("healthy");
      const { stdout } = await run("docker", ["inspect", "-f", "{{.Config.User}} {{json .HostConfig.CapDrop}}", web.name]);
      expect(stdout.trim()).toBe('1000:1000 ["ALL"]');
    }
  });

  it("serve the service's default site over HTTP and over HTTPS with the datacenter's certificate", async () => {
    const web = dc.replica("www-1");
    const host = `www.${dc.domain}`;
    expect(await fetchInside(web.name, "http://127.0.0.1:8080/", host)).toMatch(new RegExp(`^200 www-1 .*<h1>www\\.${dc.domain.replace(/\./g, "\\.")}</h1>`));
    expect(await fetchInside(web.name, `https://127.0.0.1:8443/`, host)).toMatch(/^200 www-1 /);
  });
});
