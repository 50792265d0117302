/** Helpers for the FTP tests: an in-process file server with FTPS on loopback, and curl/lftp runners. */
import { execFile } from "node:child_process";
import { connect, type Socket } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../images/runtime/log";
import { createReloadingTls } from "../../images/runtime/tls";
import { startFileApp, type FileApp } from "../../images/file/src/app";
import type { FileLimits } from "../../images/file/src/limits";
import type { PlannedAddresses } from "../../images/file/src/passive";
import { fileSettingsSchema } from "../../contracts/settings/file";
import { makeCert } from "../mail/support";
import { credentials, PASSWORDS, SETTINGS } from "./support";

export { haveTools } from "../mail/support";
export { PASSWORDS } from "./support";

export interface FtpTestServer {
  readonly app: FileApp;
  readonly dataDir: string;
  readonly port: number;
  readonly cert: string;
}

/**
 * @param planned the replica's planned addresses and networks, as the replica config gives them (PASV behind NAT).
 * @param limits bounds against hostile clients (images/file/src/limits.ts), e.g. shorter timers.
 */
export async function startFtpFiles(
  passive: { from: number; to: number },
  ftp: Record<string, unknown> = {},
  host = "127.0.0.1",
  planned?: PlannedAddresses,
  limits?: Partial<FileLimits>,
): Promise<FtpTestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "sp-ftp-"));
  const { cert, key } = await makeCert("file.test.example");
  const log = createLogger({ role: "file", level: "silent" });
  const app = await startFileApp({
    dataDir,
    backupDir: `${dataDir}-backups`,
    settings: fileSettingsSchema.parse({ ...SETTINGS, ftp }),
    credentials: credentials(),
    host,
    sftpPort: 0,
    ftpPort: 0,
    ftpPassivePorts: passive,
    ...(planned ? { ftpPlanned: planned } : {}),
    ...(limits ? { limits } : {}),
    tls: await createReloadingTls({ certFile: cert, keyFile: key }, log),
    log,
  });
  return { app, dataDir, port: app.ftp!.port, cert };
}

export interface Run {
  readonly code: number;
  readonly out: string;
  readonly stdout: Buffer;
}

/** Runs a client; resolves with its exit code and output (never rejects). */
export function runClient(cmd: string, args: string[], options: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: "buffer" },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
        resolve({ code, out: `${stdout.toString()}${stderr.toString()}${error && code === 1 && error.killed ? " [killed: timeout]" : ""}`, stdout });
      },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** curl over explicit FTPS (AUTH TLS, PROT P), trusting the test certificate. */
export function curlFtps(port: number, user: keyof typeof PASSWORDS, path: string, extra: string[] = [], cwd?: string): Promise<Run> {
  return runClient(
    "curl",
    ["-sS", "--ssl-reqd", "-k", "--max-time", "60", "-u", `${user}:${PASSWORDS[user]}`, ...extra, `ftp://127.0.0.1:${port}/${path}`],
    cwd ? { cwd } : {},
  );
}

/** An lftp script over explicit FTPS; `commands` run after the login. */
export function lftp(port: number, user: keyof typeof PASSWORDS, commands: string[], cwd?: string, password: string = PASSWORDS[user]): Promise<Run> {
  const script = [
    "set ftp:ssl-force true",
    "set ftp:ssl-protect-data true",
    "set ssl:verify-certificate no",
    "set net:max-retries 1",
    "set net:timeout 20",
    "set cmd:fail-exit true",
    `open -u ${user},${password} -p ${port} ftp://127.0.0.1`,
    ...commands,
  ].join("\n");
  return runClient("lftp", ["-c", script], { ...(cwd ? { cwd } : {}) });
}

/** A bare control connection: our own reader of reply lines, to send what no client would. */
export class Raw {
  private buffer = "";
  readonly lines: string[] = [];
  closed = false;
  private wake: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("latin1");
      const parts = this.buffer.split("\r\n");
      this.buffer = parts.pop()!;
      this.lines.push(...parts);
      this.wake?.();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => ((this.closed = true), this.wake?.()));
  }

  static open(port: number, localAddress: string, host = "127.0.0.1"): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, localAddress }, () => resolve(new Raw(socket)));
      socket.once("error", reject);
    });
  }

  send(data: string | Buffer): void {
    if (!this.closed) this.socket.write(data);
  }

  /** Waits for a reply line matching `re` (looking at lines from `from` on); undefined if the connection closed first. */
  async until(re: RegExp, timeoutMs = 30_000, from = 0): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (let seen = from; ;) {
      for (; seen < this.lines.length; seen++) if (re.test(this.lines[seen]!)) return this.lines[seen];
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error(`no reply matching ${re} in ${timeoutMs} ms; last: ${this.lines.slice(-3).join(" | ")}`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 200);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
