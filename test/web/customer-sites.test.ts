/**
 * A customer's site end to end on loopback, with real clients: globex uploads with OpenSSH's
 * sftp to the file role, whose publisher copies public_html to the sites folder; the web role,
 * configured with the view the program writes for the local stack with two customers
 * (components/model/webView.ts), serves it by the customer's names to curl. What one
 * customer publishes never answers for the other, and no request path leaves a site.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../contracts/credentials/scrypt";
import { fileSettingsSchema } from "../../contracts/settings/file";
import { webSettingsSchema } from "../../contracts/settings/web";
import { startFileApp, type FileApp } from "../../images/file/src/app";
import { startWebApp, type WebApp } from "../../images/web/src/app";
import { createLogger } from "../../images/runtime/log";
import { parseReplicaConfig, STANDALONE_CONFIG } from "../../images/runtime/replica";
import { fileAccountsOf } from "../../components/model/fileView";
import { customerSitesOf } from "../../components/model/webView";
import { customerPlan } from "../support/customers";
import { haveTools, sftpRun } from "../file/support";
import { curl } from "./curl";

const enabled = haveTools("sftp", "sshpass", "curl");
const PASSWORDS = { acme: "acme-site-password-1", globex: "globex-site-password-1" } as const;

describe.skipIf(!enabled)("customer sites: sftp upload, served by the web role", () => {
  const work = mkdtempSync(join(tmpdir(), "sp-site-work-"));
  const sitesDir = mkdtempSync(join(tmpdir(), "sp-site-published-"));
  let files: FileApp;
  let web: WebApp;
  const get = (host: string, path = "/") => curl(["--path-as-is", "-H", `Host: ${host}`, `http://127.0.0.1:${web.httpPort}${path}`]);
  const upload = (user: keyof typeof PASSWORDS, commands: string[]) =>
    sftpRun({ host: "127.0.0.1", port: files.sftpPort, user, password: PASSWORDS[user] }, commands, { cwd: work });
  /** Waits (up to 30 s, never asserting a duration) until the site answers `body`. */
  async function served(host: string, body: string): Promise<string> {
    let last = "";
    for (let i = 0; i < 300; i++) {
      last = (await get(host)).body.toString();
      if (last === body) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return last;
  }

  beforeAll(async () => {
    const { plan } = customerPlan();
    const fileService = plan.services.find((s) => s.role === "file")!;
    const webService = plan.services.find((s) => s.role === "web")!;
    const log = createLogger({ role: "test", level: "silent" });
    const data = mkdtempSync(join(tmpdir(), "sp-site-data-"));
    files = await startFileApp({
      dataDir: data,
      backupDir: join(data, "backups"),
      settings: fileSettingsSchema.parse({ backup: { intervalMinutes: 0, keep: 1 } }),
      credentials: { acme: hashPassword(PASSWORDS.acme), globex: hashPassword(PASSWORDS.globex) },
      accounts: fileAccountsOf(plan, fileService),
      sitesDir,
      publishIntervalMs: 300,
      host: "127.0.0.1",
      sftpPort: 0,
      log,
    });
    const config = parseReplicaConfig(
      JSON.stringify({ ...STANDALONE_CONFIG, replica: "www-0", service: "www", domain: "fra1.park.test", customerSites: customerSitesOf(plan, webService) }),
      webSettingsSchema,
    );
    web = await startWebApp({ config, host: "127.0.0.1", httpPort: 0, scratchDir: join(work, "scratch"), customerSitesDir: sitesDir, log });
  });
  afterAll(async () => {
    await web?.close();
    await files?.close();
  });

  it("serves what globex uploads, by each of its names, and nothing for acme before acme publishes", async () => {
    writeFileSync(join(work, "index.html"), "<h1>globex v1</h1>\n");
    const r = await upload("globex", ["mkdir public_html", "put index.html public_html/index.html"]);
    expect(r.code, r.out).toBe(0);
    expect(await served("globex.test", "<h1>globex v1</h1>\n")).toBe("<h1>globex v1</h1>\n");
    const www = await get("www.globex.test");
    expect(www.status).toBe(200);
    expect(www.body.toString()).toBe("<h1>globex v1</h1>\n");
    expect(www.headers["cache-control"]).toBe("public, max-age=5");
    expect((await get("acme.test")).status).toBe(404);
  }, 60_000);

  it("serves a new upload within seconds, and each customer only their own site", async () => {
    writeFileSync(join(work, "index.html"), "<h1>globex v2</h1>\n");
    expect((await upload("globex", ["put index.html public_html/index.html"])).code).toBe(0);
    expect(await served("globex.test", "<h1>globex v2</h1>\n")).toBe("<h1>globex v2</h1>\n");
    writeFileSync(join(work, "acme.html"), "<h1>acme</h1>\n");
    expect((await upload("acme", ["mkdir public_html", "put acme.html public_html/index.html"])).code).toBe(0);
    expect(await served("acme.test", "<h1>acme</h1>\n")).toBe("<h1>acme</h1>\n");
    expect((await get("globex.test")).body.toString()).toBe("<h1>globex v2</h1>\n");
  }, 60_000);

  it("no request path leaves the customer's site", async () => {
    for (const path of ["/../globex/current/index.html", "/%2e%2e/globex/current/index.html", "/../../etc/passwd", "/.snap-0/index.html"]) {
      const r = await get("acme.test", path);
      expect([400, 403, 404], `${path}: ${r.status}`).toContain(r.status);
      expect(r.body.toString()).not.toContain("globex");
    }
  }, 60_000);
});
