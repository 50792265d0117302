/**
 * Our file role's SFTP server for the benchmark, in a process of its own (so the benchmark's
 * own work does not share its event loop, and `--cpu-prof` profiles only the server). Same
 * startFileApp as the image's main.ts, with one user "bench" whose password comes from the
 * environment, no scheduled backups, a quota large enough for the runs.
 *
 * Usage (from bench/file/sftp.ts): node --import tsx bench/file/server.ts <dataDir>
 * Prints one line `{"port": N}` when listening; stops on SIGTERM.
 */
import diagnostics_channel from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { join } from "node:path";
import { createLogger } from "../../images/runtime/log";
import { hashPassword } from "../../contracts/credentials/scrypt";
import { startFileApp } from "../../images/file/src/app";
import { fileSettingsSchema } from "../../contracts/settings/file";

// Experiment switch (not how the image runs): Nagle off on every accepted socket, to measure
// what ssh2's server loses with it on (net.Server's default). See README.md.
if (process.env.SP_BENCH_NODELAY === "1") {
  diagnostics_channel.subscribe("net.server.socket", (message) => (message as { socket: Socket }).socket.setNoDelay(true));
}

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  const password = process.env.SP_BENCH_PASSWORD;
  if (!dataDir || !password) throw new Error("usage: SP_BENCH_PASSWORD=... server.ts <dataDir>");
  const app = await startFileApp({
    dataDir,
    backupDir: join(dataDir, "backups"),
    settings: fileSettingsSchema.parse({ users: [{ name: "bench", quotaBytes: 64 * 1024 ** 3 }], backup: { intervalMinutes: 0, keep: 1 } }),
    credentials: { bench: hashPassword(password) },
    host: "127.0.0.1",
    sftpPort: Number(process.env.SP_BENCH_PORT ?? 0),
    log: createLogger({ role: "file", level: "warn" }),
  });
  process.stdout.write(`${JSON.stringify({ port: app.sftpPort })}\n`);
  // process.exit, not just close: the profile (--cpu-prof) is written on a normal exit.
  process.on("SIGTERM", () => void app.close().finally(() => process.exit(0)));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench file server failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
