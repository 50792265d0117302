/**
 * Helpers for the hostile-client tests: openssl s_client as a client we did not write (for
 * TLS version checks), and the resident memory of this test process, where the servers
 * under attack run (they are started in-process by each test).
 */
import { spawn } from "node:child_process";

export interface Handshake {
  /** openssl exited 0 (the handshake completed). */
  readonly ok: boolean;
  /** The negotiated protocol from s_client's summary ("TLSv1.2"), if any. */
  readonly protocol?: string;
  readonly output: string;
}

/**
 * One TLS handshake with `openssl s_client` forcing `version` (e.g. "-tls1_1"), with the
 * security level lowered so the client itself would offer old versions; stdin is empty, so
 * s_client exits right after the handshake. `extra`: e.g. ["-starttls", "postgres"].
 */
export function opensslHandshake(port: number, version: string, extra: readonly string[] = []): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const child = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, version, "-cipher", "DEFAULT@SECLEVEL=0", ...extra], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 15_000,
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      // "New, TLSv1.2, Cipher is …" only when a handshake completed ("New, (NONE), …" otherwise).
      const protocol = /^New, (TLSv[\d.]+), Cipher is (?!\(NONE\))/m.exec(output)?.[1];
      resolve({ ok: code === 0 && !!protocol, ...(protocol ? { protocol } : {}), output });
    });
  });
}

/** Resident set size of this process in MiB (the in-process servers under attack). */
export function rssMiB(): number {
  return process.memoryUsage.rss() / 1024 / 1024;
}
