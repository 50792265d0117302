/**
 * The Hetzner way of customers' sites with the real server processes (images/file/src/main.ts,
 * images/web/src/main.ts) configured by environment as the Hetzner units configure them
 * (components/targets/hetzner/sites.ts): the file process serves its published sites on its
 * management port, over mutual TLS on a non-loopback address of this machine; the web process
 * pulls them with its sites client certificate into a folder of its own. OpenSSH's sftp
 * uploads, curl reads by the customer's name; a second upload replaces the site; with the file
 * process stopped, the web process keeps serving the last copy. (Hostile manifests and
 * archives: customer-sites-pull.test.ts.)
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../contracts/credentials/scrypt";
import { SITES_CLIENT_OU, SITES_ENV } from "../../contracts/sites";
import { STANDALONE_CONFIG } from "../../images/runtime/replica";
import { fileAccountsOf } from "../../components/model/fileView";
import { customerSitesOf } from "../../components/model/webView";
import { customerPlan } from "../support/customers";
import { issueClient, makeManagementPki } from "../support/managementPki";
import { haveTools, sftpRun } from "../file/support";
import { startServer } from "../file/server-process";
import { curl } from "./curl";

const PASSWORD = "globex-site-password-1";
/** A non-loopback address of this machine: a management port there speaks mutual TLS (images/runtime/bootstrap.ts). */
const address = Object.values(networkInterfaces())
  .flat()
  .find((a) => a?.family === "IPv4" && !a.internal)?.address;
if (!address && process.env.CI !== "true") console.warn("skipping: this machine has no non-loopback IPv4 address for a mutual-TLS management port");
const enabled = haveTools("sftp", "sshpass", "curl", "openssl") && (address !== undefined || process.env.CI === "true");

/**
 * A port free now, below the ephemeral range (32768+), where the kernel hands out the ports of
 * other tests' outgoing connections and `listen(0)`s, which took a port picked there before
 * this test's server could bind it.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 21000 + Math.floor(Math.random() * 8000);
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => server.once("error", () => resolve(false)).listen(port, "127.0.0.1", () => resolve(true)));
    if (ok) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
}

describe.skipIf(!enabled)("customer sites pulled, real processes", () => {
  const dir = mkdtempSync(join(tmpdir(), "sp-pull-process-"));
  const children: ChildProcess[] = [];
  let file: ChildProcess;
  const ports = { sftp: 0, ftp: 0, fileMgmt: 0, ftpPassive: 0, http: 0, https: 0, webMgmt: 0 };
  const get = (host: string) => curl(["-H", `Host: ${host}`, `http://127.0.0.1:${ports.http}/`]);
  const upload = (commands: string[]) => sftpRun({ host: "127.0.0.1", port: ports.sftp, user: "globex", password: PASSWORD }, commands, { cwd: dir });
  /** Waits (up to 60 s, never asserting a duration) until globex's site answers `body`. */
  async function served(body: string): Promise<string> {
    let last = "";
    for (let i = 0; i < 300 && last !== body; i++) {
      await new Promise((r) => setTimeout(r, 200));
      last = (await get("globex.test")).body.toString();
    }
    return last;
  }

  beforeAll(async () => {
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
    const { plan } = customerPlan();
    const pki = makeManagementPki(["127.0.0.1", address!]);
    const client = issueClient(pki, "www-0-sites", `/O=Serverpark/OU=${SITES_CLIENT_OU}/CN=www\\/www-0`);
    const accounts = fileAccountsOf(
      plan,
      plan.services.find((s) => s.role === "file")!,
    );
    writeFileSync(
      join(dir, "file.json"),
      JSON.stringify({ ...STANDALONE_CONFIG, replica: "files-0", service: "files", settings: { backup: { intervalMinutes: 0, keep: 1 } }, accounts }),
    );
    writeFileSync(join(dir, "users.json"), JSON.stringify({ users: { globex: hashPassword(PASSWORD) } }));
    const customerSites = customerSitesOf(
      plan,
      plan.services.find((s) => s.role === "web")!,
    );
    writeFileSync(
      join(dir, "web.json"),
      JSON.stringify({ ...STANDALONE_CONFIG, replica: "www-0", service: "www", settings: { accessLog: false }, customerSites }),
    );
    const tls = { SP_TLS_CERT: pki.server.cert, SP_TLS_KEY: pki.server.key, SP_TLS_CA: pki.ca };
    file = await startServer(
      {
        SP_CONFIG: join(dir, "file.json"),
        SP_FILE_CREDENTIALS: join(dir, "users.json"),
        SP_FILE_DATA: join(dir, "file-data"),
        SP_FILE_BACKUP_DIR: join(dir, "file-backups"),
        SP_FILE_SITES_DIR: join(dir, "file-sites"),
        [SITES_ENV.serve]: "1",
        SP_LISTEN: "127.0.0.1",
        SP_FILE_SFTP_PORT: String(ports.sftp),
        SP_FILE_FTP_PORT: String(ports.ftp),
        SP_FILE_FTP_PASSIVE_PORTS: `${ports.ftpPassive}-${ports.ftpPassive}`, // FTP is not used here
        SP_MGMT_ADDRESS: address!,
        SP_MGMT_PORT: String(ports.fileMgmt),
        SP_LOG_LEVEL: "warn",
        ...tls,
      },
      ports.fileMgmt,
    );
    children.push(file);
    mkdirSync(join(dir, "web-sites"));
    children.push(
      await startServer(
        {
          SP_CONFIG: join(dir, "web.json"),
          SP_LISTEN: "127.0.0.1",
          SP_HTTP_PORT: String(ports.http),
          SP_HTTPS_PORT: String(ports.https), // off: no certificate
          SP_TLS_CERT: join(dir, "none.crt"),
          SP_TLS_KEY: join(dir, "none.key"),
          SP_TLS_CA: pki.ca,
          SP_SITES_DIR: join(dir, "web-scratch"),
          SP_CUSTOMER_SITES_DIR: join(dir, "web-sites"),
          [SITES_ENV.pullFrom]: JSON.stringify([`https://${address}:${ports.fileMgmt}`]),
          [SITES_ENV.maxBytes]: String(100 * 1024 * 1024),
          SP_SITES_PULL_INTERVAL_MS: "300",
          SP_SITES_CLIENT_CERT: client.cert,
          SP_SITES_CLIENT_KEY: client.key,
          SP_MGMT_PORT: String(ports.webMgmt),
          SP_LOG_LEVEL: "warn",
        },
        ports.webMgmt,
        "images/web/src/main.ts",
      ),
    );
  }, 120_000);
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  });

  it("serves an upload after the pull, then its replacement, and the last copy with the file process stopped", async () => {
    writeFileSync(join(dir, "index.html"), "<h1>globex v1</h1>\n");
    expect((await upload(["mkdir public_html", "put index.html public_html/index.html"])).code).toBe(0);
    expect(await served("<h1>globex v1</h1>\n")).toBe("<h1>globex v1</h1>\n");
    writeFileSync(join(dir, "index.html"), "<h1>globex v2</h1>\n");
    expect((await upload(["put index.html public_html/index.html"])).code).toBe(0);
    expect(await served("<h1>globex v2</h1>\n")).toBe("<h1>globex v2</h1>\n");
    file.kill("SIGTERM");
    await new Promise((r) => (file.exitCode === null ? file.once("exit", r) : r(undefined)));
    // Pull rounds run every 300 ms and now fail; the site stays.
    await new Promise((r) => setTimeout(r, 1500));
    const after = await get("www.globex.test");
    expect(after.status).toBe(200);
    expect(after.body.toString()).toBe("<h1>globex v2</h1>\n");
  }, 180_000);
});
