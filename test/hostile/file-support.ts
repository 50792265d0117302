/**
 * Helpers for the file role's hostile-client tests: the real server process with its own
 * settings (so its RSS can be measured alone), RSS sampling, and a bare socket that never
 * reads what the server answers.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STANDALONE_CONFIG } from "../../images/runtime/replica";
import { makeCert } from "../mail/support";
import { credentials } from "../file/support";
import { startServer } from "../file/server-process";

export interface FileProcess {
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly ports: { readonly ftp: number; readonly sftp: number; readonly mgmt: number };
}

/** Starts images/file/src/main.ts for alice, bob and tiny (quota 100,000 bytes); `ftp` settings (default: FTPS required). */
export async function startFileProcess(base: number, ftp: Record<string, unknown> = {}): Promise<FileProcess> {
  const dir = mkdtempSync(join(tmpdir(), "sp-hostile-file-"));
  const { cert, key } = await makeCert("file.test.example");
  writeFileSync(join(dir, "users.json"), JSON.stringify({ users: credentials() }));
  const settings = { users: [{ name: "alice" }, { name: "bob" }, { name: "tiny", quotaBytes: 100_000 }], backup: { intervalMinutes: 0, keep: 1 }, ftp };
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...STANDALONE_CONFIG, settings }));
  const ports = { ftp: base, sftp: base + 1, mgmt: base + 2 };
  const child = await startServer(
    {
      SP_CONFIG: join(dir, "config.json"),
      SP_FILE_CREDENTIALS: join(dir, "users.json"),
      SP_FILE_DATA: join(dir, "data"),
      SP_FILE_BACKUP_DIR: join(dir, "backups"),
      SP_LISTEN: "127.0.0.1",
      SP_MGMT_ADDRESS: "127.0.0.2",
      SP_LOG_LEVEL: "warn",
      SP_MGMT_PORT: String(ports.mgmt),
      SP_FILE_FTP_PORT: String(ports.ftp),
      SP_FILE_SFTP_PORT: String(ports.sftp),
      SP_FILE_FTP_PASSIVE_PORTS: `${base + 3}-${base + 9}`,
      SP_TLS_CERT: cert,
      SP_TLS_KEY: key,
    },
    ports.mgmt,
  );
  return { child, dataDir: join(dir, "data"), ports };
}

/** Resident set size of a process, in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return kb ? Number(kb[1]) / 1024 : NaN;
}

/** Samples a process's RSS every 100 ms until stopped; `stop()` gives the peak (MiB). */
export function sampleRss(pid: number): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMiB(pid));
    } catch {
      // the process is gone: the test sees that on its own
    }
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssMiB(pid));
    },
  };
}

/** A TCP connection from `localAddress` that sends but never reads (its receive side stays paused). */
export function deafSocket(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress }, () => {
      socket.pause();
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Writes `total` bytes of `line` repeated, in 1 MiB chunks (buffered on our side if the server stops reading). */
export function flood(socket: Socket, line: string, total: number): void {
  const chunk = Buffer.from(line.repeat(Math.ceil((1 << 20) / line.length)));
  socket.on("error", () => undefined);
  for (let sent = 0; sent < total && !socket.destroyed; sent += chunk.length) socket.write(chunk);
}

/**
 * Waits until the server has stopped taking our bytes (the socket's unsent bytes unchanged for
 * 2 s), took them all, or closed the connection; at most `maxMs`.
 */
export async function untilSettled(socket: Socket, maxMs = 90_000): Promise<"closed" | "all-sent" | "stalled"> {
  let last = -1;
  let still = 0;
  for (const end = Date.now() + maxMs; Date.now() < end;) {
    if (socket.destroyed || socket.closed) return "closed";
    if (socket.writableLength === 0) return "all-sent";
    still = socket.writableLength === last ? still + 1 : 0;
    last = socket.writableLength;
    if (still >= 10) return "stalled";
    await new Promise((r) => setTimeout(r, 200));
  }
  return "stalled";
}
