/**
 * Helpers for the mail tests: a throw-away certificate (openssl), an in-process mail app on
 * loopback port 0, and the real clients (swaks, curl) run with bounded timeouts.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLogger } from "../../images/runtime/log";
import { createReloadingTls } from "../../images/runtime/tls";
import { startMailApp, type MailApp } from "../../images/mail/src/app";
import type { MailLimits } from "../../images/mail/src/limits";
import { hashPassword } from "../../contracts/credentials/scrypt";
import { mailSettingsSchema, type MailSettings } from "../../contracts/settings/mail";

export const run = promisify(execFile);
export const DOMAIN = "fra1.park.test";
export const PASSWORDS = { alice: "alice-secret-1", bob: "bob-secret-2" } as const;

/** True when every tool is on PATH; otherwise prints why the test is skipped (fails in CI). */
export function haveTools(...tools: string[]): boolean {
  const missing = tools.filter((t) => {
    try {
      execFileSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return true;
  if (process.env.CI === "true") throw new Error(`missing tools in CI: ${missing.join(", ")} (run scripts/setup-clients.sh)`);
  console.warn(`skipping: missing ${missing.join(", ")} (run scripts/setup-clients.sh)`);
  return false;
}

/** A self-signed certificate for `name` in a temporary folder. */
export async function makeCert(name = `mail.${DOMAIN}`): Promise<{ dir: string; cert: string; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), "sp-cert-"));
  const cert = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  await run(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-addext",
      `subjectAltName=DNS:${name},IP:127.0.0.1`,
      "-keyout",
      key,
      "-out",
      cert,
    ],
    { timeout: 20_000 },
  );
  return { dir, cert, key };
}

let cachedHashes: Record<string, string> | undefined;
export function credentials(): Record<string, string> {
  cachedHashes ??= Object.fromEntries(Object.entries(PASSWORDS).map(([u, p]) => [u, hashPassword(p)]));
  return cachedHashes;
}

export interface TestMail {
  readonly app: MailApp;
  readonly dataDir: string;
  readonly cert: string;
}

/** Hosting customers' mailboxes (the view a deployment sends) and their password hashes. */
export interface TestCustomers {
  readonly mailboxes: readonly { readonly address: string; readonly quotaBytes: number }[];
  readonly customerDomains?: readonly string[];
  readonly credentials: Readonly<Record<string, string>>;
}

export async function startTestMail(
  settings: Partial<Record<keyof MailSettings, unknown>> = {},
  dataDir = mkdtempSync(join(tmpdir(), "sp-mail-")),
  limits: Partial<MailLimits> = {},
  customers?: TestCustomers,
): Promise<TestMail> {
  const { cert, key } = await makeCert();
  const log = createLogger({ role: "mail", level: "silent" });
  const tls = await createReloadingTls({ certFile: cert, keyFile: key }, log);
  const app = await startMailApp({
    dataDir,
    domain: DOMAIN,
    hostname: `mail.${DOMAIN}`,
    settings: mailSettingsSchema.parse({ users: ["alice", "bob", "postmaster"], ...settings }),
    credentials: { ...credentials(), ...customers?.credentials },
    ...(customers ? { mailboxes: customers.mailboxes, customerDomains: customers.customerDomains } : {}),
    tls,
    host: "127.0.0.1",
    ports: { smtp: 0, submission: 0, imaps: 0, pop3s: 0 },
    log,
    queueTickMs: 50,
    limits,
  });
  return { app, dataDir, cert };
}

/** Runs swaks; resolves with its transcript and exit code (swaks exits non-zero on refusals). */
export async function swaks(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run("swaks", ["--timeout", "10", "--helo", "client.test", ...args], { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

export async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run("curl", ["-sS", "--max-time", "15", ...args], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, out: e.stdout ?? "", err: e.stderr ?? "" };
  }
}

export const readText = (path: string) => readFileSync(path, "utf8");
