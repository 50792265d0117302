/** Helpers for the file tests: an in-process file server on loopback and the real sftp client. */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLogger } from "../../images/runtime/log";
import { hashPassword } from "../../contracts/credentials/scrypt";
import { startFileApp, type FileApp } from "../../images/file/src/app";
import { fileSettingsSchema } from "../../contracts/settings/file";

export { haveTools } from "../mail/support";

export const run = promisify(execFile);
export const PASSWORDS = { alice: "alice-files-1", bob: "bob-files-2", tiny: "tiny-files-3" } as const;

let hashes: Record<string, string> | undefined;
export function credentials(): Record<string, string> {
  hashes ??= Object.fromEntries(Object.entries(PASSWORDS).map(([u, p]) => [u, hashPassword(p)]));
  return hashes;
}

export const SETTINGS = {
  users: [{ name: "alice" }, { name: "bob" }, { name: "tiny", quotaBytes: 100_000 }],
  versions: { keep: 5, maxAgeDays: 30 },
  backup: { intervalMinutes: 0, keep: 3 },
};

export async function startTestFiles(dataDir = mkdtempSync(join(tmpdir(), "sp-files-"))): Promise<{ app: FileApp; dataDir: string }> {
  const app = await startFileApp({
    dataDir,
    backupDir: join(dataDir, "..", `${dataDir.split("/").pop()}-backups`),
    settings: fileSettingsSchema.parse(SETTINGS),
    credentials: credentials(),
    host: "127.0.0.1",
    sftpPort: 0,
    log: createLogger({ role: "file", level: "silent" }),
  });
  return { app, dataDir };
}

const SSH_OPTS = [
  "-oBatchMode=no",
  "-oStrictHostKeyChecking=no",
  "-oUserKnownHostsFile=/dev/null",
  "-oPreferredAuthentications=password",
  "-oPubkeyAuthentication=no",
  "-oConnectTimeout=10",
  "-oLogLevel=ERROR",
];

/**
 * Runs an OpenSSH sftp batch (password through sshpass) against any server; resolves with
 * output and exit code (never rejects).
 * @param options.limitKbits sftp's own bandwidth limit (`-l`, Kbit/s), to keep a transfer in flight.
 * @param options.args more sftp arguments (e.g. `-vvv`).
 */
export async function sftpRun(
  target: { readonly host: string; readonly port: number; readonly user: string; readonly password: string },
  commands: string[],
  options: { readonly cwd?: string; readonly limitKbits?: number; readonly args?: readonly string[] } = {},
): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), "sp-sftp-batch-"));
  const batch = join(dir, "batch");
  writeFileSync(batch, `${commands.join("\n")}\n`);
  const limit = options.limitKbits === undefined ? [] : ["-l", String(options.limitKbits)];
  try {
    const { stdout, stderr } = await run(
      "sshpass",
      ["-p", target.password, "sftp", ...SSH_OPTS, ...limit, ...(options.args ?? []), "-P", String(target.port), "-b", batch, `${target.user}@${target.host}`],
      { timeout: 60_000, cwd: options.cwd, maxBuffer: 16 * 1024 * 1024 },
    );
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** sftpRun as a test user against the in-process server on loopback. */
export function sftpBatch(
  port: number,
  user: keyof typeof PASSWORDS,
  commands: string[],
  cwd?: string,
  limitKbits?: number,
): Promise<{ code: number; out: string }> {
  return sftpRun({ host: "127.0.0.1", port, user, password: PASSWORDS[user] }, commands, { ...(cwd ? { cwd } : {}), ...(limitKbits ? { limitKbits } : {}) });
}
