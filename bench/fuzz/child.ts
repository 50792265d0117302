/**
 * What every long fuzzer shares (the contract is at the top of ./run.ts): the server in a
 * child process (./server.ts) with its RSS sampled, crash and hang counts, and the summary
 * line. A fuzzer supplies `send(i)` (one input) and `alive()` (a valid request that must be
 * answered in time); `alive` runs every `checkEvery` inputs and at the end.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

export interface FuzzRun {
  readonly protocol: string;
  readonly server: "dns" | "http";
  readonly count: number;
  readonly rssBoundMiB: number;
  readonly checkEvery: number;
  /** Sends input `i` to the server on `port`; resolves when it may go on. */
  send(port: number, i: number): Promise<void>;
  /** Resolves true when a valid request is answered properly within its time. */
  alive(port: number): Promise<boolean>;
}

export async function runFuzz(run: FuzzRun): Promise<void> {
  const started = performance.now();
  const tsx = join(__dirname, "..", "..", "node_modules", "tsx", "dist", "cli.mjs");
  // A process group of its own, killed whole: tsx runs the server as its own child, and a
  // plain kill of tsx left the server running (it outlived the fuzzer, holding its stderr).
  const child = spawn(process.execPath, [tsx, join(__dirname, "server.ts"), run.server], { stdio: ["ignore", "pipe", "inherit"], detached: true });
  const killServer = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", killServer);
  let exited = false;
  child.once("exit", () => (exited = true));
  let rssMaxMiB = 0;
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const m = JSON.parse(line) as { port?: number; rssMiB?: number };
      if (m.port !== undefined) resolve(m.port);
      if (m.rssMiB !== undefined) rssMaxMiB = Math.max(rssMaxMiB, m.rssMiB);
    });
    child.once("exit", (code) => reject(new Error(`the ${run.server} server exited before listening (${code})`)));
  });
  let crashes = 0;
  let hangs = 0;
  let inputs = 0;
  for (let i = 0; i < run.count && !exited; i++) {
    await run.send(port, i);
    inputs++;
    if ((i + 1) % run.checkEvery === 0 || i + 1 === run.count) {
      if (exited) break;
      if (!(await run.alive(port))) hangs++;
      if (hangs > 3) break; // it stopped answering: no use going on
    }
  }
  await new Promise((r) => setTimeout(r, 300)); // one more RSS sample after the last input
  if (exited) crashes++;
  else killServer();
  const summary = {
    protocol: run.protocol,
    inputs,
    crashes,
    hangs,
    rssMaxMiB: Math.round(rssMaxMiB * 10) / 10,
    rssBoundMiB: run.rssBoundMiB,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  console.log(JSON.stringify(summary));
  process.exit(crashes === 0 && hangs === 0 && rssMaxMiB <= run.rssBoundMiB && inputs === run.count ? 0 : 1);
}
