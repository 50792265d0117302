/**
 * The file role's FTP server with explicit TLS, driven by curl and lftp: upload, download and
 * listings over FTPS (lftp's `ls` is the case that hangs ftp-srv), versions kept on overwrite
 * and delete and restored, confinement, quota refusal, wrong passwords, clear-text logins and
 * active mode refused, concurrent writers. Passive ports 47310-47319.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlFtps, haveTools, lftp, PASSWORDS, runClient, startFtpFiles, type FtpTestServer } from "./ftp-support";

const enabled = haveTools("curl", "lftp", "openssl");

describe.skipIf(!enabled)("file role over FTP with explicit TLS", () => {
  let server: FtpTestServer;
  const work = mkdtempSync(join(tmpdir(), "sp-ftp-work-"));
  const userDir = (user: string, ...parts: string[]) => join(server.dataDir, "users", user, ...parts);
  const route = (method: string, path: string) => server.app.routes.find((r) => r.method === method && r.path === path)!;

  beforeAll(async () => {
    server = await startFtpFiles({ from: 47310, to: 47319 });
  });
  afterAll(async () => {
    await server?.app.close();
  });

  it("curl uploads and downloads byte for byte over FTPS", async () => {
    const data = randomBytes(700_000);
    writeFileSync(join(work, "up.bin"), data);
    const up = await curlFtps(server.port, "alice", "docs/a.bin", ["--ftp-create-dirs", "-T", join(work, "up.bin")]);
    expect(up.code, up.out).toBe(0);
    expect(readFileSync(userDir("alice", "files", "docs", "a.bin")).equals(data)).toBe(true);
    const down = await curlFtps(server.port, "alice", "docs/a.bin");
    expect(down.code, down.out).toBe(0);
    expect(down.stdout.equals(data)).toBe(true);
    // Resume: REST 500000 + RETR sends only the tail.
    const tail = await curlFtps(server.port, "alice", "docs/a.bin", ["-C", "500000"]);
    expect(tail.code, tail.out).toBe(0);
    expect(tail.stdout.equals(data.subarray(500_000))).toBe(true);
    // Append (APPE) goes through the same atomic upload.
    writeFileSync(join(work, "more.bin"), Buffer.from("appended"));
    const appe = await curlFtps(server.port, "alice", "docs/a.bin", ["--append", "-T", join(work, "more.bin")]);
    expect(appe.code, appe.out).toBe(0);
    expect(readFileSync(userDir("alice", "files", "docs", "a.bin")).equals(Buffer.concat([data, Buffer.from("appended")]))).toBe(true);
  }, 60_000);

  it("lftp lists, uploads, renames, downloads and removes over FTPS (ls does not hang)", async () => {
    writeFileSync(join(work, "l.txt"), "from lftp\n");
    const r = await lftp(
      server.port,
      "bob",
      [
        "mkdir reports",
        "put l.txt -o reports/l.txt",
        "ls reports",
        "mv reports/l.txt reports/m.txt",
        "cls -1 reports",
        "get reports/m.txt -o got.txt",
        "rm reports/m.txt",
        "rmdir reports",
        "ls",
      ],
      work,
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^-rw------- 1 bob bob +10 .* l\.txt$/m);
    expect(r.out).toMatch(/^(reports\/)?m\.txt$/m);
    expect(readFileSync(join(work, "got.txt"), "utf8")).toBe("from lftp\n");
    expect(existsSync(userDir("bob", "files", "reports"))).toBe(false);
    // The removed file is a version, not gone.
    expect(await server.app.trees.get("bob")!.listVersions("reports/m.txt")).toHaveLength(1);
  }, 60_000);

  it("lftp mirrors a folder with MLSD and SIZE/MDTM", async () => {
    const src = join(work, "tree");
    mkdirSync(join(src, "sub"), { recursive: true });
    for (let i = 0; i < 12; i++) writeFileSync(join(src, i % 2 ? "sub" : "", `f${i}.txt`), `file ${i}\n`);
    const up = await lftp(server.port, "bob", [`mirror -R ${src} mirrored`], work);
    expect(up.code, up.out).toBe(0);
    const down = await lftp(server.port, "bob", ["set ftp:use-mlsd true", `mirror mirrored ${join(work, "back")}`], work);
    expect(down.code, down.out).toBe(0);
    for (let i = 0; i < 12; i++) expect(readFileSync(join(work, "back", i % 2 ? "sub" : "", `f${i}.txt`), "utf8")).toBe(`file ${i}\n`);
  }, 90_000);

  it("keeps the previous version on overwrite and delete, and restores it", async () => {
    writeFileSync(join(work, "v1.txt"), "version one\n");
    writeFileSync(join(work, "v2.txt"), "version two\n");
    expect((await curlFtps(server.port, "alice", "notes.txt", ["-T", join(work, "v1.txt")])).code).toBe(0);
    expect((await curlFtps(server.port, "alice", "notes.txt", ["-T", join(work, "v2.txt")])).code).toBe(0);
    const listing = await lftp(server.port, "alice", ["cls -1 .versions/notes.txt"], work);
    expect(listing.code, listing.out).toBe(0);
    const names = listing.out
      .split("\n")
      .map((l) => l.split("/").pop()!)
      .filter((l) => l.startsWith("@v-"));
    expect(names).toHaveLength(1);
    // The version is readable over FTP, and the view is read-only.
    const old = await curlFtps(server.port, "alice", `.versions/notes.txt/${names[0]}`);
    expect(old.stdout.toString()).toBe("version one\n");
    const write = await curlFtps(server.port, "alice", ".versions/notes.txt/x", ["-T", join(work, "v2.txt")]);
    expect(write.code).not.toBe(0);
    expect(write.out).toMatch(/553|550|read-only|Failed FTP upload/i);

    await route("POST", "/versions/restore").handler({
      method: "POST",
      url: new URL("http://x/"),
      body: { user: "alice", path: "/notes.txt", version: names[0] },
    });
    expect((await curlFtps(server.port, "alice", "notes.txt")).stdout.toString()).toBe("version one\n");

    const dele = await curlFtps(server.port, "alice", "", ["-Q", "DELE notes.txt"]);
    expect(dele.code, dele.out).toBe(0);
    expect(existsSync(userDir("alice", "files", "notes.txt"))).toBe(false);
    const versions = await server.app.trees.get("alice")!.listVersions("notes.txt");
    expect(versions).toHaveLength(3); // v1, v2 (replaced by the restore), the deleted v1
    expect(readFileSync(userDir("alice", "versions", "notes.txt", versions.at(-1)!.version), "utf8")).toBe("version one\n");
  }, 60_000);

  it("confines the user to their own tree: .., absolute paths, planted symlinks", async () => {
    writeFileSync(userDir("bob", "files", "bob-secret.txt"), "bob only");
    symlinkSync("/etc", userDir("alice", "files", "etc-link"));
    symlinkSync(userDir("bob", "files", "bob-secret.txt"), userDir("alice", "files", "bob-link"));
    // curl walks the path with CWD per segment by default; with nocwd the whole path goes in RETR.
    for (const method of ["multicwd", "nocwd"])
      for (const path of ["../../../../etc/passwd", "%2Fetc%2Fpasswd", "../bob/files/bob-secret.txt", "etc-link/passwd", "bob-link"]) {
        const r = await curlFtps(server.port, "alice", path, ["--path-as-is", "--ftp-method", method]);
        expect(r.code, `${path} was served (${method}): ${r.out}`).not.toBe(0);
        expect(r.stdout.length).toBe(0);
      }
    const l = await lftp(server.port, "alice", ["set cmd:fail-exit false", "quote CWD ../../..", "quote PWD", "ls", "cd etc-link"], work);
    expect(l.out).toMatch(/^257 "\/" is the current folder/m);
    expect(l.out).toMatch(/cd: Access failed: 550/);
    const listed = l.out.split("\n").filter((line) => /^[d-]r/.test(line));
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.join("\n")).not.toMatch(/etc-link|bob-link/); // links are not listed
    // A write aimed above the root lands inside it.
    writeFileSync(join(work, "esc.txt"), "escape?\n");
    const up = await curlFtps(server.port, "alice", "../../escape.txt", ["--path-as-is", "-T", join(work, "esc.txt")]);
    expect(up.code, up.out).toBe(0);
    expect(existsSync(join(server.dataDir, "users", "escape.txt"))).toBe(false);
    expect(existsSync(join(server.dataDir, "escape.txt"))).toBe(false);
    expect(readFileSync(userDir("alice", "files", "escape.txt"), "utf8")).toBe("escape?\n");
  }, 90_000);

  it("refuses an upload past the quota with 552 and leaves no partial file", async () => {
    writeFileSync(join(work, "small.bin"), randomBytes(40_000));
    writeFileSync(join(work, "big.bin"), randomBytes(150_000));
    expect((await curlFtps(server.port, "tiny", "s1.bin", ["-T", join(work, "small.bin")])).code).toBe(0);
    const over = await curlFtps(server.port, "tiny", "b.bin", ["-v", "-T", join(work, "big.bin")]);
    expect(over.code).not.toBe(0);
    expect(over.out).toMatch(/^< 552 /m);
    expect(readdirSync(userDir("tiny", "files")).sort()).toEqual(["s1.bin"]);
    expect(readdirSync(userDir("tiny", "tmp"))).toEqual([]);
    expect(server.app.trees.get("tiny")!.used).toBe(40_000);
  }, 30_000);

  it("refuses a wrong password, a clear-text login and active mode", async () => {
    const wrong = await runClient("curl", ["-sS", "--ssl-reqd", "-k", "-u", `alice:${PASSWORDS.bob}`, `ftp://127.0.0.1:${server.port}/`]);
    expect(wrong.code).toBe(67); // CURLE_LOGIN_DENIED
    const lf = await lftp(server.port, "alice", ["ls"], work, "not-the-password");
    expect(lf.code).not.toBe(0);
    expect(lf.out).toMatch(/Login (failed|incorrect)/i);

    // Without TLS the server answers USER with 530: the password never crosses in the clear.
    const clear = await runClient("curl", ["-sS", "-v", "-u", `alice:${PASSWORDS.alice}`, `ftp://127.0.0.1:${server.port}/`]);
    expect(clear.code).toBe(67);
    expect(clear.out).toMatch(/^< 530 TLS required/m);
    expect(clear.out).not.toMatch(/^> PASS/m);

    // Active mode (curl -P) is refused: PORT/EPRT answer 502.
    const active = await runClient("curl", [
      "-sS",
      "-v",
      "--ssl-reqd",
      "-k",
      "-P",
      "127.0.0.1",
      "-u",
      `alice:${PASSWORDS.alice}`,
      `ftp://127.0.0.1:${server.port}/`,
    ]);
    expect(active.code).not.toBe(0);
    expect(active.out).toMatch(/^< 502 Active mode is not offered/m);
  }, 60_000);

  it("two concurrent writers: the later complete upload wins, the other is kept as a version", async () => {
    const a = randomBytes(3_000_000);
    const b = randomBytes(3_000_000);
    writeFileSync(join(work, "wa.bin"), a);
    writeFileSync(join(work, "wb.bin"), b);
    const [ra, rb] = await Promise.all([
      curlFtps(server.port, "bob", "race.bin", ["-T", join(work, "wa.bin")]),
      curlFtps(server.port, "bob", "race.bin", ["-T", join(work, "wb.bin")]),
    ]);
    expect(ra.code, ra.out).toBe(0);
    expect(rb.code, rb.out).toBe(0);
    const live = readFileSync(userDir("bob", "files", "race.bin"));
    expect(live.equals(a) || live.equals(b)).toBe(true);
    const versions = await server.app.trees.get("bob")!.listVersions("race.bin");
    expect(versions).toHaveLength(1);
    expect(readFileSync(userDir("bob", "versions", "race.bin", versions[0]!.version)).equals(live.equals(a) ? b : a)).toBe(true);
  }, 60_000);
});
