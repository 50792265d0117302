/** Helpers for the FTP tests: an in-process file server with FTPS on loopback, and curl/lftp runners. */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../images/runtime/log";
import { createReloadingTls } from "../../images/runtime/tls";
import { startFileApp, type FileApp } from "../../images/file/src/app";
import { fileSettingsSchema } from "../../images/file/settings";
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

export async function startFtpFiles(passive: { from: number; to: number }, ftp: Record<string, unknown> = {}, host = "127.0.0.1"): Promise<FtpTestServer> {
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
