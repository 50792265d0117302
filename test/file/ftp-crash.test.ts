/**
 * kill -9 of the real file server process (images/file/src/main.ts) while curl uploads over
 * FTPS: afterwards the overwritten file holds its old content byte for byte, the new file
 * does not exist, and tmp/ is empty after the restart. Ports 47340 (FTP), 47341 (SFTP),
 * 47342 (management), passive 47343-47346.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeCert } from "../mail/support";
import { credentials } from "./support";
import { curlFtps, haveTools } from "./ftp-support";

const enabled = haveTools("curl", "openssl");
const PORTS = { ftp: 47340, sftp: 47341, mgmt: 47342 };

async function startServer(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "images/file/src/main.ts"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 300; i++) {
    const healthy = await fetch(`http://127.0.0.1:${PORTS.mgmt}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) return child;
    if (child.exitCode !== null) throw new Error(`file server exited with ${child.exitCode}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`file server not healthy in 30 s: ${stderr}`);
}

describe.skipIf(!enabled)("FTP uploads under kill -9", () => {
  let child: ChildProcess | undefined;
  afterAll(() => void child?.kill("SIGKILL"));

  it("leaves no partial file when the server is killed mid-upload", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-ftp-kill-"));
    const { cert, key } = await makeCert("file.test.example");
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
      SP_FILE_FTP_PORT: String(PORTS.ftp),
      SP_FILE_FTP_PASSIVE_PORTS: "47343-47346",
      SP_TLS_CERT: cert,
      SP_TLS_KEY: key,
    };
    child = await startServer(env);
    const old = randomBytes(50_000);
    writeFileSync(join(dir, "old.bin"), old);
    writeFileSync(join(dir, "big.bin"), randomBytes(32 * 1024 * 1024));
    const first = await curlFtps(PORTS.ftp, "alice", "existing.bin", ["-T", join(dir, "old.bin")]);
    expect(first.code, first.out).toBe(0);

    // Throttled so both uploads are surely in flight when the server dies.
    const uploads = Promise.all([
      curlFtps(PORTS.ftp, "alice", "existing.bin", ["--limit-rate", "4M", "-T", join(dir, "big.bin")]),
      curlFtps(PORTS.ftp, "alice", "fresh.bin", ["--limit-rate", "4M", "-T", join(dir, "big.bin")]),
    ]);
    const files = join(dir, "data", "users", "alice", "files");
    const tmp = join(dir, "data", "users", "alice", "tmp");
    for (let i = 0; i < 500 && readdirSync(tmp).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    expect(readdirSync(tmp).length).toBe(2);
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    const results = await uploads;
    expect(results.every((r) => r.code !== 0)).toBe(true);

    child = await startServer(env);
    expect(readFileSync(join(files, "existing.bin")).equals(old)).toBe(true);
    expect(existsSync(join(files, "fresh.bin"))).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
    // And the restarted server still takes uploads.
    const again = await curlFtps(PORTS.ftp, "alice", "fresh.bin", ["-T", join(dir, "old.bin")]);
    expect(again.code, again.out).toBe(0);
    expect(readFileSync(join(files, "fresh.bin")).equals(old)).toBe(true);
  }, 180_000);
});
