/**
 * The real mail server process (images/mail/src/main.ts) for tests that must kill it or
 * measure its memory: a config, credentials and certificate in a temporary folder, fixed
 * loopback ports, and the process's resident set size read from /proc.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STANDALONE_CONFIG } from "../../images/runtime/replica";
import { credentials, DOMAIN, makeCert } from "./support";

export interface MailProcessPorts {
  readonly smtp: number;
  readonly submission: number;
  readonly imaps: number;
  readonly pop3s: number;
  readonly mgmt: number;
}

export interface MailProcess {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly cert: string;
  /** Resident set size of the server process now, in MiB. */
  rssMiB(): number;
  /** Starts the process again (same data, same ports) after it exited. */
  restart(): Promise<MailProcess>;
  kill(): Promise<void>;
}

/** Binds `port` on `host` and releases it; true when it was free. */
function isFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/**
 * Five ports free right now on 127.0.0.1 and 127.0.0.2 (the management listener uses both),
 * so tests and fuzzers do not collide with other suites running on the same machine. They
 * are picked below the kernel's ephemeral range (32768+), which outgoing connections reuse.
 */
export async function freePorts(): Promise<MailProcessPorts> {
  const picked = new Set<number>();
  while (picked.size < 5) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!picked.has(port) && (await isFree(port, "127.0.0.1")) && (await isFree(port, "127.0.0.2"))) picked.add(port);
  }
  const [smtp, submission, imaps, pop3s, mgmt] = [...picked] as [number, number, number, number, number];
  return { smtp, submission, imaps, pop3s, mgmt };
}

async function spawnServer(env: Record<string, string>, mgmt: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "images/mail/src/main.ts"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
  // A crash under attack is the failure these tests look for: show why.
  child.on("exit", (code) => {
    if (code !== null && code !== 0) console.error(`mail server exited with ${code}: ${stderr}`);
  });
  for (let i = 0; i < 150; i++) {
    const ok = await fetch(`http://127.0.0.1:${mgmt}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return child;
    if (child.exitCode !== null) throw new Error(`mail exited with ${child.exitCode}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`mail did not become healthy in 15 s: ${stderr}`);
}

/** Starts main.ts with `settings` (the stack's services[].settings) on `ports`, `extraEnv` added. */
export async function startMailProcess(
  ports: MailProcessPorts,
  settings: Record<string, unknown> = { users: ["alice", "bob"] },
  extraEnv: Record<string, string> = {},
): Promise<MailProcess> {
  const dir = mkdtempSync(join(tmpdir(), "sp-mail-proc-"));
  const { cert, key } = await makeCert();
  writeFileSync(join(dir, "users.json"), JSON.stringify({ users: credentials() }));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...STANDALONE_CONFIG, domain: DOMAIN, service: "mail", settings }));
  const env = {
    SP_CONFIG: join(dir, "config.json"),
    SP_MAIL_CREDENTIALS: join(dir, "users.json"),
    SP_MAIL_DATA: join(dir, "data"),
    SP_TLS_CERT: cert,
    SP_TLS_KEY: key,
    SP_LISTEN: "127.0.0.1",
    SP_MGMT_ADDRESS: "127.0.0.2" /* the runtime adds 127.0.0.1 itself */,
    SP_LOG_LEVEL: "warn",
    SP_MGMT_PORT: String(ports.mgmt),
    SP_MAIL_SMTP_PORT: String(ports.smtp),
    SP_MAIL_SUBMISSION_PORT: String(ports.submission),
    SP_MAIL_IMAPS_PORT: String(ports.imaps),
    SP_MAIL_POP3S_PORT: String(ports.pop3s),
    ...extraEnv,
  };
  const make = (child: ChildProcess): MailProcess => ({
    child,
    dir,
    env,
    cert,
    rssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
      return kb / 1024;
    },
    restart: async () => make(await spawnServer(env, ports.mgmt)),
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  });
  return make(await spawnServer(env, ports.mgmt));
}

/** Samples `read` every 50 ms until stopped; `max` is the highest value seen. */
export function sampleMax(read: () => number): { stop(): number; readonly max: number } {
  let max = read();
  const timer = setInterval(() => {
    try {
      max = Math.max(max, read());
    } catch {
      // the process is gone; keep the last maximum
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return max;
    },
    get max() {
      return max;
    },
  };
}
