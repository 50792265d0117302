/** The real file server process (images/file/src/main.ts), for tests and bench/fuzz (no vitest here). */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { STANDALONE_CONFIG } from "../../images/runtime/replica";
import { credentials } from "./support";

/**
 * The variables of a file server on loopback outside any datacenter, its files in `dir` (a
 * config with the user alice, no backup schedule; the test users' password hashes); the
 * protocol ports and TLS come from the caller.
 */
export function standaloneFileEnv(dir: string, mgmtPort: number): Record<string, string> {
  writeFileSync(join(dir, "users.json"), JSON.stringify({ users: credentials() }));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ ...STANDALONE_CONFIG, settings: { users: [{ name: "alice" }], backup: { intervalMinutes: 0, keep: 1 } } }),
  );
  return {
    SP_CONFIG: join(dir, "config.json"),
    SP_FILE_CREDENTIALS: join(dir, "users.json"),
    SP_FILE_DATA: join(dir, "data"),
    SP_FILE_BACKUP_DIR: join(dir, "backups"),
    SP_LISTEN: "127.0.0.1",
    SP_MGMT_ADDRESS: "127.0.0.2" /* the runtime adds 127.0.0.1 itself */,
    SP_LOG_LEVEL: "warn",
    SP_MGMT_PORT: String(mgmtPort),
  };
}

/** Starts the real file server process (images/file/src/main.ts, or another role's `entry`) and waits for its health check. */
export async function startServer(env: Record<string, string>, mgmtPort: number, entry = "images/file/src/main.ts"): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 300; i++) {
    const healthy = await fetch(`http://127.0.0.1:${mgmtPort}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) return child;
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`${entry} not healthy in 30 s: ${stderr}`);
}
