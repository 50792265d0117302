/**
 * The file role with OpenSSH's sftp (and curl's): uploads and downloads, versions kept on
 * overwrite and delete and restored, confinement, quotas, concurrent writers, backups.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileApp } from "../../images/file/src/app";
import { haveTools, PASSWORDS, sftpBatch, sftpRun, startTestFiles } from "./support";

const enabled = haveTools("sftp", "sshpass", "curl");
const exec = promisify(execFile);

describe.skipIf(!enabled)("file role over SFTP", () => {
  let app: FileApp;
  let dataDir: string;
  const work = mkdtempSync(join(tmpdir(), "sp-files-work-"));
  const route = (method: string, path: string) => app.routes.find((r) => r.method === method && r.path === path)!;

  beforeAll(async () => {
    ({ app, dataDir } = await startTestFiles());
  });
  afterAll(async () => {
    await app?.close();
  });

  it("uploads and downloads byte for byte", async () => {
    const data = randomBytes(300_000);
    writeFileSync(join(work, "up.bin"), data);
    const r = await sftpBatch(app.sftpPort, "alice", ["mkdir docs", "put up.bin docs/a.bin", "get docs/a.bin down.bin", "ls -l docs"], work);
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(join(work, "down.bin")).equals(data)).toBe(true);
    expect(readFileSync(join(dataDir, "users", "alice", "files", "docs", "a.bin")).equals(data)).toBe(true);
  }, 30_000);

  it("offers limits@openssh.com: OpenSSH's sftp moves 255 KiB a request both ways, byte for byte", async () => {
    // Large enough for sftp's requests in flight to ramp up to 64 × 255 KiB (16 MiB of READs out at once).
    const data = randomBytes(48 * 1024 * 1024 + 12_345);
    writeFileSync(join(work, "big.bin"), data);
    const r = await sftpRun(
      { host: "127.0.0.1", port: app.sftpPort, user: "alice", password: PASSWORDS.alice },
      ["put big.bin big.bin", "get big.bin big-down.bin"],
      {
        cwd: work,
        args: ["-vvv"],
      },
    );
    expect(r.code, r.out.slice(-2000)).toBe(0);
    expect(r.out).toContain("server upload/download buffer sizes 261120 / 261120; using 261120 / 261120");
    expect(readFileSync(join(work, "big-down.bin")).equals(data)).toBe(true);
    expect(readFileSync(join(dataDir, "users", "alice", "files", "big.bin")).equals(data)).toBe(true);
  }, 60_000);

  it("keeps the previous version on overwrite and delete, lists and restores it", async () => {
    writeFileSync(join(work, "v1.txt"), "version one\n");
    writeFileSync(join(work, "v2.txt"), "version two\n");
    const r = await sftpBatch(app.sftpPort, "alice", ["put v1.txt notes.txt", "put v2.txt notes.txt", "ls .versions/notes.txt"], work);
    expect(r.code, r.out).toBe(0);
    const versions = (await route("GET", "/versions").handler({ method: "GET", url: new URL("http://x/versions?user=alice&path=/notes.txt"), body: undefined }))
      .body as { version: string }[];
    expect(versions).toHaveLength(1);
    expect(r.out).toContain(versions[0]!.version);
    // The versions view is readable over SFTP, and read-only.
    const get = await sftpBatch(app.sftpPort, "alice", [`get .versions/notes.txt/${versions[0]!.version} old.txt`], work);
    expect(readFileSync(join(work, "old.txt"), "utf8")).toBe("version one\n");
    expect(get.code).toBe(0);
    const write = await sftpBatch(app.sftpPort, "alice", [`put v2.txt .versions/notes.txt/x`], work);
    expect(write.code).not.toBe(0);

    await route("POST", "/versions/restore").handler({
      method: "POST",
      url: new URL("http://x/"),
      body: { user: "alice", path: "/notes.txt", version: versions[0]!.version },
    });
    const now = await sftpBatch(app.sftpPort, "alice", ["get notes.txt now.txt", "rm notes.txt"], work);
    expect(now.code, now.out).toBe(0);
    expect(readFileSync(join(work, "now.txt"), "utf8")).toBe("version one\n");
    expect(existsSync(join(dataDir, "users", "alice", "files", "notes.txt"))).toBe(false);
    const after = await app.trees.get("alice")!.listVersions("notes.txt");
    expect(after.length).toBe(3); // v1 (restored over), v2, and the deleted v1
  }, 60_000);

  it("confines every user to their own tree", async () => {
    writeFileSync(join(dataDir, "users", "bob", "files", "bob-secret.txt"), "bob only");
    // A link planted on the volume by hand (the server never creates one) must not lead out.
    symlinkSync("/etc", join(dataDir, "users", "alice", "files", "etc-link"));
    const attempts = [
      "get ../../../../../../etc/passwd p1",
      "get /etc/passwd p2",
      "get ../bob/files/bob-secret.txt p3",
      "get etc-link/passwd p4",
      "get /../../users/bob/files/bob-secret.txt p5",
    ];
    for (const cmd of attempts) {
      const r = await sftpBatch(app.sftpPort, "alice", [cmd], work);
      expect(r.code, `${cmd} succeeded: ${r.out}`).not.toBe(0);
    }
    for (const f of ["p1", "p2", "p3", "p4", "p5"]) expect(existsSync(join(work, f))).toBe(false);
    const link = await sftpBatch(app.sftpPort, "alice", ["symlink /etc/passwd mylink"], work);
    expect(link.code).not.toBe(0);
    const root = await sftpBatch(app.sftpPort, "alice", ["cd ../../..", "pwd"], work);
    expect(root.out).toMatch(/Remote working directory: \/\s*$/m);
    const wrong = await sftpBatch(app.sftpPort, "bob", ["ls"], work).then(() =>
      exec(
        "sshpass",
        [
          "-p",
          PASSWORDS.alice,
          "sftp",
          "-oBatchMode=no",
          "-oStrictHostKeyChecking=no",
          "-oUserKnownHostsFile=/dev/null",
          "-P",
          String(app.sftpPort),
          "bob@127.0.0.1",
        ],
        { timeout: 20_000 },
      ).then(
        () => 0,
        (e: { code?: number }) => e.code ?? 1,
      ),
    );
    expect(wrong).not.toBe(0); // alice's password does not open bob's tree
  }, 90_000);

  it("refuses uploads past the quota and leaves no partial file", async () => {
    writeFileSync(join(work, "small.bin"), randomBytes(40_000));
    writeFileSync(join(work, "big.bin"), randomBytes(150_000));
    const ok = await sftpBatch(app.sftpPort, "tiny", ["put small.bin s1.bin"], work);
    expect(ok.code, ok.out).toBe(0);
    const over = await sftpBatch(app.sftpPort, "tiny", ["put big.bin b.bin"], work);
    expect(over.code).not.toBe(0);
    expect(over.out).toMatch(/write remote .*: Failure|quota/i);
    expect(readdirSync(join(dataDir, "users", "tiny", "files")).sort()).toEqual(["s1.bin"]);
    expect(readdirSync(join(dataDir, "users", "tiny", "tmp"))).toEqual([]);
    expect(app.trees.get("tiny")!.used).toBe(40_000);
  }, 30_000);

  it("works with curl's SFTP client", async () => {
    writeFileSync(join(work, "curl.txt"), "via curl\n");
    const base = `sftp://127.0.0.1:${app.sftpPort}`;
    await exec("curl", ["-sS", "--max-time", "20", "--insecure", "--user", `bob:${PASSWORDS.bob}`, "-T", join(work, "curl.txt"), `${base}/curl.txt`], {
      timeout: 30_000,
    });
    const { stdout } = await exec("curl", ["-sS", "--max-time", "20", "--insecure", "--user", `bob:${PASSWORDS.bob}`, `${base}/curl.txt`], { timeout: 30_000 });
    expect(stdout).toBe("via curl\n");
  }, 30_000);

  it("two concurrent writers: the later complete write wins, the other is kept as a version", async () => {
    const a = randomBytes(2_000_000);
    const b = randomBytes(2_000_000);
    writeFileSync(join(work, "wa.bin"), a);
    writeFileSync(join(work, "wb.bin"), b);
    const [ra, rb] = await Promise.all([
      sftpBatch(app.sftpPort, "bob", ["put wa.bin race.bin"], work),
      sftpBatch(app.sftpPort, "bob", ["put wb.bin race.bin"], work),
    ]);
    expect(ra.code, ra.out).toBe(0);
    expect(rb.code, rb.out).toBe(0);
    const live = readFileSync(join(dataDir, "users", "bob", "files", "race.bin"));
    expect(live.equals(a) || live.equals(b)).toBe(true); // never a mix of both
    const versions = await app.trees.get("bob")!.listVersions("race.bin");
    expect(versions).toHaveLength(1);
    const kept = readFileSync(join(dataDir, "users", "bob", "versions", "race.bin", versions[0]!.version));
    expect(kept.equals(live.equals(a) ? b : a)).toBe(true);
  }, 60_000);

  it("backs up every user's tree and restores it", async () => {
    writeFileSync(join(work, "keep.txt"), "precious\n");
    await sftpBatch(app.sftpPort, "bob", ["put keep.txt keep.txt"], work);
    const backup = await app.backups.run();
    expect(backup.files).toBeGreaterThan(0);
    const root = join(app.backups.backupDir, backup.name);
    expect(readFileSync(join(root, "bob", "keep.txt"), "utf8")).toBe("precious\n");
    expect(existsSync(join(root, "alice", "docs", "a.bin"))).toBe(true);
    await sftpBatch(app.sftpPort, "bob", ["rm keep.txt"], work);
    expect(await app.backups.restore(backup.name, "bob")).toBeGreaterThan(0);
    expect(readFileSync(join(dataDir, "users", "bob", "files", "keep.txt"), "utf8")).toBe("precious\n");
    mkdirSync(join(work, "unused"), { recursive: true });
  }, 60_000);
});
