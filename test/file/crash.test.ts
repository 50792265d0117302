/**
 * kill -9 of the real file server process during uploads: afterwards the target holds its
 * old content byte for byte (or does not exist), never a partial file, and tmp/ is empty.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { credentials, haveTools, sftpBatch } from "./support";

const enabled = haveTools("sftp", "sshpass");
const PORTS = { sftp: 47222, mgmt: 47200 };

async function startServer(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "images/file/src/main.ts"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`http://127.0.0.1:${PORTS.mgmt}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return child;
    if (child.exitCode !== null) throw new Error(`file server exited with ${child.exitCode}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`file server not healthy in 20 s: ${stderr}`);
}

describe.skipIf(!enabled)("file uploads under kill -9", () => {
  let child: ChildProcess | undefined;
  afterAll(() => void child?.kill("SIGKILL"));

  it("leaves no partial file when the server is killed mid-upload", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-files-kill-"));
    writeFileSync(join(dir, "users.json"), JSON.stringify({ users: credentials() }));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ settings: { users: [{ name: "alice" }], backup: { intervalMinutes: 0, keep: 1 } } }));
    const env = {
      SP_CONFIG: join(dir, "config.json"),
      SP_FILE_CREDENTIALS: join(dir, "users.json"),
      SP_FILE_DATA: join(dir, "data"),
      SP_FILE_BACKUP_DIR: join(dir, "backups"),
      SP_LISTEN: "127.0.0.1",
      SP_MGMT_ADDRESS: "127.0.0.2" /* the runtime adds 127.0.0.1 itself */,
      SP_LOG_LEVEL: "warn",
      SP_MGMT_PORT: String(PORTS.mgmt),
      SP_FILE_SFTP_PORT: String(PORTS.sftp),
    };
    child = await startServer(env);
    const old = randomBytes(50_000);
    writeFileSync(join(dir, "old.bin"), old);
    writeFileSync(join(dir, "big.bin"), randomBytes(32 * 1024 * 1024));
    expect((await sftpBatch(PORTS.sftp, "alice", ["put old.bin existing.bin"], dir)).code).toBe(0);

    // Throttled (sftp -l, 16 Mbit/s: 32 MiB take ~16 s), so both are still in flight when the
    // server dies however fast or loaded the machine is.
    const uploads = Promise.all([
      sftpBatch(PORTS.sftp, "alice", ["put big.bin existing.bin"], dir, 16_384),
      sftpBatch(PORTS.sftp, "alice", ["put big.bin fresh.bin"], dir, 16_384),
    ]);
    const files = join(dir, "data", "users", "alice", "files");
    const tmp = join(dir, "data", "users", "alice", "tmp");
    // Kill once both uploads are under way (their temporary files exist).
    for (let i = 0; i < 1500 && readdirSync(tmp).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 150));
    expect(readdirSync(tmp).length).toBe(2);
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    const results = await uploads;
    expect(results.every((r) => r.code !== 0)).toBe(true);

    child = await startServer(env);
    expect(readFileSync(join(files, "existing.bin")).equals(old)).toBe(true);
    expect(existsSync(join(files, "fresh.bin"))).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  }, 120_000);
});
