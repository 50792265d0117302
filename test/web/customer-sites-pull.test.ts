/**
 * Customers' sites where the web replicas share no volume with the file service (the Hetzner
 * target, contracts/sites.ts), on loopback with real clients: globex uploads with OpenSSH's
 * sftp; the file role publishes and packs the site and serves the manifest and archives on its
 * management port over mutual TLS; the web role's puller, holding a sites client certificate,
 * fetches it into a folder of its own, and curl gets it by the customer's name. A second upload
 * is swapped in whole (every answer meanwhile is one version or the other); with the file
 * service stopped the last copy keeps serving; hostile manifests and archives from a file
 * service that was taken over are refused and change nothing.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../contracts/credentials/scrypt";
import { fileSettingsSchema } from "../../contracts/settings/file";
import { webSettingsSchema } from "../../contracts/settings/web";
import { SITES_CLIENT_OU, SITES_PREFIX } from "../../contracts/sites";
import { startFileApp, type FileApp } from "../../images/file/src/app";
import { siteRoutes } from "../../images/file/src/siteServe";
import { startWebApp, type WebApp } from "../../images/web/src/app";
import { SitePuller } from "../../images/web/src/sitePull";
import { createLogger } from "../../images/runtime/log";
import { SITES_CALLER_PREFIX, startManagementServer, type ManagementServer, type StreamRoute } from "../../images/runtime/management";
import { parseReplicaConfig, STANDALONE_CONFIG } from "../../images/runtime/replica";
import { fileAccountsOf } from "../../components/model/fileView";
import { customerSitesOf } from "../../components/model/webView";
import { customerPlan } from "../support/customers";
import { backupClient } from "../support/backupStore";
import { issueClient, makeManagementPki, type Pair } from "../support/managementPki";
import { haveTools, sftpRun } from "../file/support";
import { curl } from "./curl";

const enabled = haveTools("sftp", "sshpass", "curl", "openssl", "tar");
const PASSWORD = "globex-site-password-1";
const log = createLogger({ role: "test", level: (process.env.SP_TEST_LOG as "warn") ?? "silent" });

describe.skipIf(!enabled)("customer sites pulled by the web role (no shared volume)", () => {
  const work = mkdtempSync(join(tmpdir(), "sp-pull-work-"));
  const fileSites = mkdtempSync(join(tmpdir(), "sp-pull-file-sites-"));
  const webSites = mkdtempSync(join(tmpdir(), "sp-pull-web-sites-"));
  const pki = makeManagementPki(["127.0.0.1"]);
  const sitesClient: Pair = issueClient(pki, "www-0-sites", `/O=Serverpark/OU=${SITES_CLIENT_OU}/CN=www\\/www-0`);
  const tls = { cert: sitesClient.cert, key: sitesClient.key, ca: pki.ca };
  let files: FileApp;
  let management: ManagementServer;
  let web: WebApp;
  let puller: SitePuller;
  const source = () => `https://127.0.0.1:${management.port}`;
  const get = (host: string, path = "/") => curl(["-H", `Host: ${host}`, `http://127.0.0.1:${web.httpPort}${path}`]);
  const upload = (commands: string[]) => sftpRun({ host: "127.0.0.1", port: files.sftpPort, user: "globex", password: PASSWORD }, commands, { cwd: work });
  /** Runs pull rounds (up to 30 s, never asserting a duration) until the site answers `body`. */
  async function served(body: string): Promise<string> {
    let last = "";
    for (let i = 0; i < 150; i++) {
      await puller.round();
      last = (await get("globex.test")).body.toString();
      if (last === body) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return last;
  }
  const manifest = (client: Pair | undefined) =>
    curl([...(client ? ["--cert", client.cert, "--key", client.key] : []), "--cacert", pki.ca, `${source()}${SITES_PREFIX}`]);

  beforeAll(async () => {
    const { plan } = customerPlan();
    const data = mkdtempSync(join(tmpdir(), "sp-pull-data-"));
    files = await startFileApp({
      dataDir: data,
      backupDir: join(data, "backups"),
      settings: fileSettingsSchema.parse({ backup: { intervalMinutes: 0, keep: 1 } }),
      credentials: { globex: hashPassword(PASSWORD) },
      accounts: fileAccountsOf(
        plan,
        plan.services.find((s) => s.role === "file")!,
      ),
      sitesDir: fileSites,
      publishIntervalMs: 200,
      serveSites: true,
      host: "127.0.0.1",
      sftpPort: 0,
      log,
    });
    management = await startManagementServer({
      port: 0,
      host: "127.0.0.1",
      tls: { certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca },
      log,
      readiness: () => ({ ready: true }),
      streams: files.streams,
    });
    const sites = customerSitesOf(
      plan,
      plan.services.find((s) => s.role === "web")!,
    );
    const config = parseReplicaConfig(
      JSON.stringify({
        ...STANDALONE_CONFIG,
        replica: "www-0",
        service: "www",
        domain: "fra1.park.test",
        customerSites: sites,
        settings: { accessLog: false },
      }),
      webSettingsSchema,
    );
    web = await startWebApp({ config, host: "127.0.0.1", httpPort: 0, scratchDir: join(work, "scratch"), customerSitesDir: webSites, log });
    puller = new SitePuller({
      sources: [source()],
      tls,
      accounts: sites.map((s) => s.account),
      sitesDir: webSites,
      maxBytes: 1024 * 1024,
      intervalMs: 60_000,
      log,
    });
  }, 60_000);
  afterAll(async () => {
    await puller?.stop();
    await web?.close();
    await management?.close();
    await files?.close();
  });

  it("serves what globex uploads after the pull; the manifest is for sites clients only", async () => {
    writeFileSync(join(work, "index.html"), "<h1>globex v1</h1>\n");
    expect((await upload(["mkdir public_html", "put index.html public_html/index.html"])).code).toBe(0);
    expect((await get("globex.test")).status).toBe(404);
    expect(await served("<h1>globex v1</h1>\n")).toBe("<h1>globex v1</h1>\n");
    expect((await get("www.globex.test")).body.toString()).toBe("<h1>globex v1</h1>\n");

    const listed = await manifest(sitesClient);
    expect(listed.status).toBe(200);
    const [entry] = JSON.parse(listed.body.toString()) as { account: string; version: string; bytes: number }[];
    expect(entry!.account).toBe("globex");
    expect(readlinkSync(join(webSites, "globex", "current"))).toBe(`.snap-${entry!.version}`);
    // The archive is what its version says, and GNU tar reads it.
    const archive = await curl([
      "--cert",
      sitesClient.cert,
      "--key",
      sitesClient.key,
      "--cacert",
      pki.ca,
      `${source()}${SITES_PREFIX}globex/${entry!.version}`,
    ]);
    expect(createHash("sha256").update(archive.body).digest("hex")).toBe(entry!.version);
    writeFileSync(join(work, "got.tar"), archive.body);
    expect(execFileSync("tar", ["-tf", join(work, "got.tar")], { encoding: "utf8" }).trim()).toBe("index.html");

    expect((await manifest(backupClient(pki, "files", "files-0"))).status).toBe(403); // another client OU
    const noc = await manifest(pki.noc); // a management caller reaches the port, not the sites
    expect(noc.status).toBe(404);
    expect(noc.body.toString()).not.toContain("globex");
    expect((await manifest(undefined)).exitCode).not.toBe(0); // no certificate: no TLS session
  }, 90_000);

  it("swaps a second upload in whole: every answer meanwhile is one version or the other", async () => {
    writeFileSync(join(work, "index.html"), `<h1>globex v2</h1>\n${"x".repeat(200_000)}\n`);
    expect((await upload(["put index.html public_html/index.html"])).code).toBe(0);
    const v1 = "<h1>globex v1</h1>\n";
    const v2 = readFileSync(join(work, "index.html"), "utf8");
    const seen = new Set<string>();
    let done = false;
    const watcher = (async () => {
      while (!done) {
        const r = await getBody(web.httpPort, "globex.test");
        seen.add(r.body === v1 ? "v1" : r.body === v2 ? "v2" : `other ${r.status} ${r.body.length}`);
      }
    })();
    const last = await served(v2);
    done = true;
    await watcher;
    expect(last).toBe(v2);
    expect([...seen].sort()).toEqual(seen.has("v1") ? ["v1", "v2"] : ["v2"]);
  }, 90_000);

  it("keeps serving the last good copy while the file service is down", async () => {
    await management.close();
    await puller.round(); // fails to reach the manifest, touches nothing
    await puller.round();
    const r = await get("globex.test");
    expect(r.status).toBe(200);
    expect(r.body.toString()).toContain("<h1>globex v2</h1>");
  }, 60_000);

  it("refuses hostile manifests and archives and keeps the last good copy", async () => {
    const live = readlinkSync(join(webSites, "globex", "current"));
    const hostile = mkdtempSync(join(tmpdir(), "sp-pull-hostile-"));
    mkdirSync(join(hostile, "src"));
    writeFileSync(join(hostile, "src", "index.html"), "<h1>defaced</h1>\n");
    symlinkSync("/etc/passwd", join(hostile, "src", "passwd.html"));
    execFileSync("tar", ["--format=ustar", "-cf", join(hostile, "symlink.tar"), "index.html", "passwd.html"], { cwd: join(hostile, "src") });
    execFileSync("tar", ["--format=ustar", "-P", "--transform", "s,^,../../,", "-cf", join(hostile, "escape.tar"), "index.html"], {
      cwd: join(hostile, "src"),
    });
    execFileSync("tar", ["--format=ustar", "-cf", join(hostile, "plain.tar"), "index.html"], { cwd: join(hostile, "src") });
    const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
    const size = (file: string) => readFileSync(file).length;
    const archive = (file: string, version = sha(file)) => ({ account: "globex", version, bytes: size(file), path: file });
    // What a taken-over file service could send: each case on its own.
    const cases: [string, StreamRoute[]][] = [
      ["a symlink member", siteRoutes(() => new Map([["globex", archive(join(hostile, "symlink.tar"))]]))],
      ["a member outside the folder", siteRoutes(() => new Map([["globex", archive(join(hostile, "escape.tar"))]]))],
      ["an archive that is not its version", siteRoutes(() => new Map([["globex", archive(join(hostile, "plain.tar"), "0".repeat(64))]]))],
      ["an archive over the bound", siteRoutes(() => new Map([["globex", { ...archive(join(hostile, "plain.tar")), bytes: 10 * 1024 ** 3 }]]))],
      ["a manifest naming a path", [rawManifest(JSON.stringify([{ account: "../globex", version: sha(join(hostile, "plain.tar")), bytes: 10240 }]))]],
      ["a manifest of 2 MiB", [rawManifest(`[${" ".repeat(2 * 1024 * 1024)}]`)]],
    ];
    // One pull round by globex's web puller from a file service that answers with `streams`.
    const pullFrom = async (streams: StreamRoute[]) => {
      const server = await startManagementServer({
        port: 0,
        host: "127.0.0.1",
        tls: { certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca },
        log,
        readiness: () => ({ ready: true }),
        streams,
      });
      const puller = new SitePuller({
        sources: [`https://127.0.0.1:${server.port}`],
        tls,
        accounts: ["globex"],
        sitesDir: webSites,
        maxBytes: 1024 * 1024,
        intervalMs: 60_000,
        log,
      });
      await puller.round();
      await server.close();
    };
    for (const [what, streams] of cases) {
      await pullFrom(streams);
      expect(readlinkSync(join(webSites, "globex", "current")), what).toBe(live);
      expect((await get("globex.test")).body.toString(), what).toContain("<h1>globex v2</h1>");
      expect(execFileSync("ls", ["-a", webSites], { encoding: "utf8" }).split("\n").filter(Boolean).sort(), what).toEqual([".", "..", "globex"]);
    }
    // The control: the same taken-over server with a plain archive gets through, so the cases above
    // were refused for what they sent, not for a connection that never worked.
    await pullFrom(siteRoutes(() => new Map([["globex", archive(join(hostile, "plain.tar"))]])));
    // The web role caches a path's resolution for a second: poll, never assert a duration.
    let body = "";
    for (let i = 0; i < 100 && body !== "<h1>defaced</h1>\n"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      body = (await get("globex.test")).body.toString();
    }
    expect(body).toBe("<h1>defaced</h1>\n");
  }, 90_000);
});

/** GET / by host name with node:http (fetch may not set Host), many times a second without a process each. */
function getBody(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet({ host: "127.0.0.1", port, path: "/", headers: { host }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    }).on("error", reject);
  });
}

/** A manifest route answering `body` as it is. */
function rawManifest(body: string): StreamRoute {
  return {
    method: "GET",
    prefix: SITES_PREFIX,
    callers: SITES_CALLER_PREFIX,
    stream: (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
      return Promise.resolve();
    },
  };
}
