/**
 * Test helpers shared by the web and proxy tests: curl as the real client (status,
 * headers, body bytes), self-signed certificates made with openssl, and the skip/fail
 * rule for missing Debian tools.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface CurlResult {
  readonly status: number;
  /** Lower-case header names; the last response's headers when curl followed several. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly stderr: string;
  readonly exitCode: number;
}

export async function curl(args: readonly string[], timeoutMs = 15_000): Promise<CurlResult> {
  const dir = mkdtempSync(join(tmpdir(), "sp-curl-"));
  const headerFile = join(dir, "headers");
  const bodyFile = join(dir, "body");
  let stderr = "";
  let exitCode = 0;
  try {
    const out = await run("curl", ["-sS", "--max-time", String(Math.ceil(timeoutMs / 1000)), "-D", headerFile, "-o", bodyFile, ...args], {
      timeout: timeoutMs + 2000,
      maxBuffer: 64 * 1024 * 1024,
    });
    stderr = out.stderr;
  } catch (error) {
    const e = error as { stderr?: string; code?: number };
    stderr = e.stderr ?? "";
    exitCode = typeof e.code === "number" ? e.code : 1;
  }
  const read = (f: string) => {
    try {
      return readFileSync(f);
    } catch {
      return Buffer.alloc(0);
    }
  };
  const blocks = read(headerFile)
    .toString("latin1")
    .split(/\r?\n\r?\n/)
    .filter((b) => b.startsWith("HTTP/"));
  const last = blocks[blocks.length - 1] ?? "";
  const [statusLine, ...lines] = last.split(/\r?\n/);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(statusLine ?? "")?.[1] ?? 0), headers, body: read(bodyFile), stderr, exitCode };
}

/** A self-signed certificate for `names` (first is the CN); returns the file paths. */
export async function selfSigned(names: readonly string[]): Promise<{ certFile: string; keyFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), "sp-cert-"));
  const certFile = join(dir, "tls.crt");
  const keyFile = join(dir, "tls.key");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${names[0]}`,
    "-addext",
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`,
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  return { certFile, keyFile };
}

export async function haveTool(tool: string): Promise<boolean> {
  return run("sh", ["-c", `command -v ${tool}`]).then(
    () => true,
    () => false,
  );
}

/** Skip (printing why) when a Debian tool is missing, but fail in CI. */
export async function requireTool(tool: string): Promise<boolean> {
  if (await haveTool(tool)) return true;
  if (process.env.CI === "true") throw new Error(`${tool} is required in CI (scripts/setup-clients.sh installs it)`);
  console.warn(`skipping: ${tool} is not installed (run scripts/setup-clients.sh)`);
  return false;
}
