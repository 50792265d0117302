/**
 * Hosting customers' file accounts on the file role, with OpenSSH's sftp: the accounts are the
 * view the program writes for the local stack's file service with two customers
 * (components/model/fileView.ts); acme logs in with an SSH key, globex with a password. Each
 * uploads its site to public_html; neither reaches the other's files; the plan's quota stops
 * an upload without leaving a partial file and the published page stays as it was.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../contracts/credentials/scrypt";
import { fileSettingsSchema } from "../../contracts/settings/file";
import { startFileApp, type FileApp } from "../../images/file/src/app";
import { createLogger } from "../../images/runtime/log";
import { fileAccountsOf } from "../../components/model/fileView";
import { customerPlan, withCustomers } from "../support/customers";
import { haveTools, sftpRun } from "./support";

const enabled = haveTools("sftp", "sshpass", "ssh-keygen");
const run = promisify(execFile);
const GLOBEX_PASSWORD = "globex-site-password-1";

describe.skipIf(!enabled)("customer file accounts over SFTP", () => {
  const work = mkdtempSync(join(tmpdir(), "sp-customer-files-"));
  const dataDir = mkdtempSync(join(tmpdir(), "sp-customer-data-"));
  const sitesDir = mkdtempSync(join(tmpdir(), "sp-customer-sites-"));
  /** The published page of an account, as the web replicas read it (undefined before the first publication). */
  const live = (account: string, file = "index.html") => {
    const path = join(sitesDir, account, "current", file);
    return existsSync(path) ? readFileSync(path, "utf8") : undefined;
  };
  /** Waits (up to 30 s, never asserting a duration) until `check` holds. */
  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
  }
  let app: FileApp;
  let keyFile: string;

  /** sftp as acme with the generated key only (no password is offered). */
  async function acme(commands: string[]): Promise<{ code: number; out: string }> {
    const batch = join(work, "acme.batch");
    writeFileSync(batch, `${commands.join("\n")}\n`);
    const args = [
      "-oBatchMode=yes",
      "-oStrictHostKeyChecking=no",
      "-oUserKnownHostsFile=/dev/null",
      "-oIdentitiesOnly=yes",
      "-oPreferredAuthentications=publickey",
    ];
    try {
      const { stdout, stderr } = await run("sftp", [...args, "-oLogLevel=ERROR", "-i", keyFile, "-P", String(app.sftpPort), "-b", batch, "acme@127.0.0.1"], {
        cwd: work,
        timeout: 60_000,
      });
      return { code: 0, out: stdout + stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === "number" ? e.code : 1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
    }
  }
  const globex = (commands: string[], password = GLOBEX_PASSWORD) =>
    sftpRun({ host: "127.0.0.1", port: app.sftpPort, user: "globex", password }, commands, { cwd: work });

  beforeAll(async () => {
    keyFile = join(work, "id_ed25519");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "acme@test", "-f", keyFile]);
    const spec = withCustomers();
    spec.plans.find((p: { id: string }) => p.id === "web-s").hosting.quotaMb = 1; // 1 MiB: a quota a test can fill
    spec.customers[0].fileAccounts[0] = { name: "acme", password: false, sshKeys: [readFileSync(`${keyFile}.pub`, "utf8").trim()] };
    const { plan } = customerPlan(spec);
    const accounts = fileAccountsOf(
      plan,
      plan.services.find((s) => s.role === "file")!,
    );
    expect(accounts.map((a) => [a.name, a.customer, a.quotaBytes])).toEqual([
      ["acme", "acme", 1024 * 1024],
      ["globex", "globex", 1024 * 1024],
    ]);
    app = await startFileApp({
      dataDir,
      backupDir: join(dataDir, "backups"),
      settings: fileSettingsSchema.parse({ backup: { intervalMinutes: 0, keep: 1 } }),
      // What components/roles/file.ts generates: hashes for the password accounts only (acme has none).
      credentials: { globex: hashPassword(GLOBEX_PASSWORD) },
      accounts,
      sitesDir,
      publishIntervalMs: 300,
      host: "127.0.0.1",
      sftpPort: 0,
      log: createLogger({ role: "file", level: "silent" }),
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("acme uploads its site with its SSH key; globex with its password", async () => {
    writeFileSync(join(work, "acme.html"), "<h1>acme</h1>\n");
    writeFileSync(join(work, "globex.html"), "<h1>globex</h1>\n");
    const a = await acme(["mkdir public_html", "put acme.html public_html/index.html", "ls public_html"]);
    expect(a.code, a.out).toBe(0);
    expect(a.out).toContain("index.html");
    const g = await globex(["mkdir public_html", "put globex.html public_html/index.html"]);
    expect(g.code, g.out).toBe(0);
    expect(readFileSync(join(dataDir, "users", "acme", "files", "public_html", "index.html"), "utf8")).toBe("<h1>acme</h1>\n");
    expect(readFileSync(join(dataDir, "users", "globex", "files", "public_html", "index.html"), "utf8")).toBe("<h1>globex</h1>\n");
    // Published for the web replicas: each account's public_html, under its own name.
    await until(() => live("acme") !== undefined && live("globex") !== undefined);
    expect(live("acme")).toBe("<h1>acme</h1>\n");
    expect(live("globex")).toBe("<h1>globex</h1>\n");
  }, 60_000);

  it("publishes a site as a whole: every copy the web sees has the page and its stylesheet of one upload", async () => {
    const seen = new Map<string, string>(); // snapshot → "page|style"
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const snap = (() => {
          try {
            return readlinkSync(join(sitesDir, "acme", "current"));
          } catch {
            return undefined;
          }
        })();
        if (snap && !seen.has(snap)) {
          const dir = join(sitesDir, "acme", snap);
          const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : "-");
          seen.set(snap, `${read("index.html")}|${read("style.css")}`);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (const v of [1, 2, 3]) {
      writeFileSync(join(work, "index.html"), `<h1>acme ${v}</h1>\n`);
      writeFileSync(join(work, "style.css"), `h1 { color: #${v}${v}${v} }\n`);
      const r = await acme(["put index.html public_html/index.html", "put style.css public_html/style.css"]);
      expect(r.code, r.out).toBe(0);
      await until(() => live("acme") === `<h1>acme ${v}</h1>\n` && live("acme", "style.css") === `h1 { color: #${v}${v}${v} }\n`);
      expect(live("acme")).toBe(`<h1>acme ${v}</h1>\n`);
    }
    watching = false;
    await watcher;
    // Every published copy pairs a page with the stylesheet of the same upload (or of none yet).
    for (const [snap, pair] of seen) {
      const [page, style] = pair.split("|");
      const v = /acme (\d)/.exec(page!)?.[1];
      if (v === undefined) continue; // the first site (no version number, no stylesheet)
      expect(style, `${snap}: ${pair}`).toBe(`h1 { color: #${v}${v}${v} }\n`);
    }
    expect(seen.size).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it("scp works too (OpenSSH's scp speaks SFTP since 9.0): acme copies a page up and back with its key", async () => {
    writeFileSync(join(work, "about.html"), "<p>about acme</p>\n");
    const ssh = [
      "-oBatchMode=yes",
      "-oStrictHostKeyChecking=no",
      "-oUserKnownHostsFile=/dev/null",
      "-oIdentitiesOnly=yes",
      "-oLogLevel=ERROR",
      "-i",
      keyFile,
      "-P",
      String(app.sftpPort),
    ];
    const scp = (args: string[]) =>
      run("scp", [...ssh, ...args], { timeout: 60_000 }).catch((e: { stderr?: string }) => {
        throw new Error(`scp ${args.join(" ")}: ${e.stderr ?? ""}`);
      });
    await scp([join(work, "about.html"), "acme@127.0.0.1:public_html/about.html"]);
    expect(readFileSync(join(dataDir, "users", "acme", "files", "public_html", "about.html"), "utf8")).toBe("<p>about acme</p>\n");
    await scp(["acme@127.0.0.1:public_html/about.html", join(work, "about-back.html")]);
    expect(readFileSync(join(work, "about-back.html"), "utf8")).toBe("<p>about acme</p>\n");
    // The legacy scp protocol (-O) runs a remote command, which the server never does.
    const legacy = await run("scp", ["-O", ...ssh, join(work, "about.html"), "acme@127.0.0.1:public_html/legacy.html"], { timeout: 60_000 }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? 1,
    );
    expect(legacy).not.toBe(0);
    expect(existsSync(join(dataDir, "users", "acme", "files", "public_html", "legacy.html"))).toBe(false);
  }, 60_000);

  it("refuses a wrong password, and a key for an account that has none", async () => {
    const wrong = await globex(["ls"], "not-the-password");
    expect(wrong.code).not.toBe(0);
    const batch = join(work, "as-globex.batch");
    writeFileSync(batch, "ls\n");
    const key = await run(
      "sftp",
      [
        "-oBatchMode=yes",
        "-oStrictHostKeyChecking=no",
        "-oUserKnownHostsFile=/dev/null",
        "-oIdentitiesOnly=yes",
        "-i",
        keyFile,
        "-P",
        String(app.sftpPort),
        "-b",
        batch,
        "globex@127.0.0.1",
      ],
      { timeout: 30_000 },
    ).then(
      () => 0,
      (e: { code?: number }) => e.code ?? 1,
    );
    expect(key).not.toBe(0);
  }, 60_000);

  it("globex cannot reach acme's files by any path", async () => {
    for (const path of [
      "../acme/files/public_html/index.html",
      "/../../acme/files/public_html/index.html",
      `${dataDir}/users/acme/files/public_html/index.html`,
    ]) {
      const r = await globex([`get ${path} stolen.html`]);
      expect(r.code, r.out).not.toBe(0);
    }
    const overwrite = await globex(["put globex.html ../acme/files/public_html/index.html"]);
    expect(overwrite.code).not.toBe(0);
    expect(readFileSync(join(dataDir, "users", "acme", "files", "public_html", "index.html"), "utf8")).toBe("<h1>acme 3</h1>\n");
  }, 60_000);

  it("an upload over the plan's quota fails, leaves no partial file and keeps the published page", async () => {
    writeFileSync(join(work, "big.bin"), randomBytes(2 * 1024 * 1024));
    // A new file and an overwrite of the page (sftp stops a batch at its first failure: two runs).
    for (const target of ["public_html/big.bin", "public_html/index.html"]) {
      const r = await acme([`put big.bin ${target}`]);
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).toMatch(/Failure|quota|space/i);
    }
    const listing = await acme(["ls -l public_html"]);
    expect(listing.code, listing.out).toBe(0);
    expect(listing.out).not.toContain("big.bin");
    expect(readFileSync(join(dataDir, "users", "acme", "files", "public_html", "index.html"), "utf8")).toBe("<h1>acme 3</h1>\n");
    expect(live("acme")).toBe("<h1>acme 3</h1>\n"); // the site keeps serving what it served
    // Overwriting the page with another that fits still works (the failed upload left nothing reserved).
    writeFileSync(join(work, "acme2.html"), "<h1>acme v2</h1>\n");
    const again = await acme(["put acme2.html public_html/index.html"]);
    expect(again.code, again.out).toBe(0);
    expect(readFileSync(join(dataDir, "users", "acme", "files", "public_html", "index.html"), "utf8")).toBe("<h1>acme v2</h1>\n");
    await until(() => live("acme") === "<h1>acme v2</h1>\n");
    expect(live("acme")).toBe("<h1>acme v2</h1>\n");
  }, 60_000);
});
