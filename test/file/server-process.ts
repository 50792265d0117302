/** The real file server process (images/file/src/main.ts), for tests and bench/fuzz (no vitest here). */
import { spawn, type ChildProcess } from "node:child_process";

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
