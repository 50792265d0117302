/**
 * Confinement of every write operation, on both protocols: a symbolic link planted in a
 * user's tree (`out` -> a folder outside it) must not lead delete, rename (from and to),
 * mkdir, rmdir or an upload outside the tree. Each operation runs with a real client
 * (OpenSSH sftp, lftp over FTPS) on its own and must fail; afterwards the outside folder is
 * exactly as it was and nothing from it appeared in the tree. The same operations inside the
 * tree still work. Passive ports 47630-47637.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveTools, lftp, startFtpFiles, type FtpTestServer } from "../file/ftp-support";
import { sftpBatch } from "../file/support";

const enabled = haveTools("lftp", "sftp", "sshpass", "openssl");

describe.skipIf(!enabled)("file role: write operations stay inside the tree despite a planted symlink", () => {
  let server: FtpTestServer;
  const work = mkdtempSync(join(tmpdir(), "sp-hostile-confine-"));
  const outside = mkdtempSync(join(tmpdir(), "sp-hostile-outside-"));
  const files = () => join(server.dataDir, "users", "alice", "files");

  beforeAll(async () => {
    server = await startFtpFiles({ from: 47630, to: 47637 });
    writeFileSync(join(outside, "victim.txt"), "not yours\n");
    mkdirSync(join(outside, "emptydir"));
    writeFileSync(join(files(), "a.txt"), "mine\n");
    symlinkSync(outside, join(files(), "out"));
    writeFileSync(join(work, "new.txt"), "planted?\n");
  });
  afterAll(async () => {
    await server?.app.close();
  });

  const expectOutsideUntouched = () => {
    expect(readdirSync(outside).sort()).toEqual(["emptydir", "victim.txt"]);
    expect(readFileSync(join(outside, "victim.txt"), "utf8")).toBe("not yours\n");
    expect(readdirSync(join(outside, "emptydir"))).toEqual([]);
    expect(readFileSync(join(files(), "a.txt"), "utf8")).toBe("mine\n");
    expect(existsSync(join(files(), "stolen.txt"))).toBe(false);
    expect(existsSync(join(server.dataDir, "users", "alice", "versions", "out"))).toBe(false);
  };

  const SFTP_ATTACKS = [
    "rm out/victim.txt",
    "rename out/victim.txt stolen.txt",
    "rename a.txt out/planted.txt",
    "mkdir out/newdir",
    "rmdir out/emptydir",
    "put new.txt out/new.txt",
  ];
  it.each(SFTP_ATTACKS)(
    "SFTP `%s` is refused",
    async (command) => {
      const r = await sftpBatch(server.app.sftpPort, "alice", [command], work);
      expect(r.code, r.out).not.toBe(0);
      expectOutsideUntouched();
    },
    30_000,
  );

  const FTP_ATTACKS = [
    "rm out/victim.txt",
    "mv out/victim.txt stolen.txt",
    "mv a.txt out/planted.txt",
    "mkdir out/newdir",
    "rmdir out/emptydir",
    "put new.txt -o out/new.txt",
  ];
  it.each(FTP_ATTACKS)(
    "FTP `%s` is refused",
    async (command) => {
      const r = await lftp(server.port, "alice", [command], work);
      expect(r.code, r.out).not.toBe(0);
      expectOutsideUntouched();
    },
    30_000,
  );

  it("the same operations inside the tree work on both protocols", async () => {
    const s = await sftpBatch(
      server.app.sftpPort,
      "alice",
      ["mkdir d1", "rename a.txt d1/a.txt", "rename d1/a.txt a.txt", "rmdir d1", "put new.txt n1.txt", "rm n1.txt"],
      work,
    );
    expect(s.code, s.out).toBe(0);
    const f = await lftp(server.port, "alice", ["mkdir d2", "mv a.txt d2/a.txt", "mv d2/a.txt a.txt", "rmdir d2", "put new.txt -o n2.txt", "rm n2.txt"], work);
    expect(f.code, f.out).toBe(0);
    expect(readdirSync(files()).sort()).toEqual(["a.txt", "out"]);
    expectOutsideUntouched();
  }, 60_000);
});
