/**
 * Back-ends (the db, the file server's SFTP) are not published: they are probed from the
 * datacenter's private network, as the services that use them reach them. One short-lived
 * helper container on that network (the locally made base image, `node` only, no Docker
 * socket, no capabilities, read-only, an address the plan never hands out) runs
 * PROBE_SCRIPT: every interval it opens a fresh connection to each target and prints one
 * JSON line per attempt. Attempts:
 *
 * - `postgres`: the PostgreSQL startup handshake (a StartupMessage for a login that does not
 *   exist); up when the server answers with an authentication request or refuses the login,
 *   down when it says it is starting up or shutting down (SQLSTATE 57P*), cannot take the
 *   connection (53*), or does not answer. The probe has no password: a real query would need
 *   the db's generated credentials, which only the deployment holds.
 * - `ssh`: the SSH identification line (`SSH-2.0-…`) the SFTP server sends first; logging in
 *   would need a customer's credentials, which only the deployment holds.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { docker } from "../../../lab/docker-cli";

export interface PrivateTarget {
  readonly probe: string;
  readonly kind: "postgres" | "ssh";
  readonly host: string;
  readonly port: number;
}

export interface PrivateSample {
  readonly probe: string;
  /** Epoch milliseconds when the attempt started. */
  readonly t: number;
  readonly ok: boolean;
  readonly why?: string;
}

/** Runs as `node -e PROBE_SCRIPT <targets JSON> <interval ms> <timeout ms>`; stops when stdin ends. */
export const PROBE_SCRIPT = `"use strict";
const net = require("node:net");
const [targets, intervalMs, timeoutMs] = [JSON.parse(process.argv[1]), Number(process.argv[2]), Number(process.argv[3])];
const params = Buffer.from("user\\0serverpark_chaos_probe\\0database\\0postgres\\0application_name\\0serverpark-chaos\\0\\0");
const startup = Buffer.alloc(8 + params.length);
startup.writeInt32BE(startup.length, 0);
startup.writeInt32BE(196608, 4);
params.copy(startup, 8);
function sqlstate(buf) {
  for (let i = 5; i < buf.length && buf[i] !== 0; ) {
    const end = buf.indexOf(0, i + 1);
    if (end < 0) break;
    if (buf[i] === 67) return buf.toString("utf8", i + 1, end);
    i = end + 1;
  }
  return "";
}
function check(t) {
  return new Promise((resolve) => {
    const s = net.connect({ host: t.host, port: t.port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (ok, why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(ok ? { ok } : { ok, why });
    };
    const timer = setTimeout(() => finish(false, "timeout"), timeoutMs);
    s.on("error", (e) => finish(false, e.code || e.message));
    s.on("close", () => finish(false, "closed"));
    if (t.kind === "postgres") s.on("connect", () => s.write(startup));
    s.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (t.kind === "ssh") {
        if (buf.toString("latin1").startsWith("SSH-2.0-")) finish(true);
        else if (buf.includes(10)) finish(false, "not an SSH greeting");
      } else if (buf[0] === 82) finish(true);
      else if (buf[0] === 69 && buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
        const code = sqlstate(buf);
        finish(!/^(57P|53)/.test(code), "SQLSTATE " + code);
      } else if (buf[0] !== 69) finish(false, "unexpected answer");
    });
  });
}
function round() {
  for (const t of targets) {
    const start = Date.now();
    // An answer means the service was up when it came; a failure, that it was not when asked.
    check(t).then((r) => process.stdout.write(JSON.stringify({ probe: t.probe, t: r.ok ? Date.now() : start, ...r }) + "\\n"));
  }
}
round();
setInterval(round, intervalMs);
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

/** The highest address of an IPv4 CIDR (below its broadcast address) that is not in `used`. */
export function freeAddress(cidr: string, used: ReadonlySet<string>): string {
  const [base, bits] = cidr.split("/");
  const octets = base!.split(".").map(Number);
  const start = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const size = 2 ** (32 - Number(bits));
  const show = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  for (let n = start + size - 2; n > start + 1; n--) if (!used.has(show(n))) return show(n);
  throw new Error(`no free address left in ${cidr} for the chaos probe`);
}

export interface PrivateProber {
  /** Resolves once every target has been sampled once (the helper is up). */
  readonly ready: Promise<void>;
  readonly samples: PrivateSample[];
  stop(): Promise<void>;
}

export interface PrivateProberOptions {
  readonly name: string;
  readonly network: string;
  readonly address: string;
  readonly image: string;
  readonly targets: readonly PrivateTarget[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** The helper container's `docker run` arguments (no datacenter label: it is not part of the datacenter). */
export function proberArgs(o: PrivateProberOptions): string[] {
  return [
    "run",
    "--rm",
    "-i",
    "--name",
    o.name,
    "--label",
    "serverpark.chaos-probe=true",
    "--network",
    o.network,
    "--ip",
    o.address,
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--user",
    "65534:65534",
    "--memory",
    "128m",
    o.image,
    "node",
    "-e",
    PROBE_SCRIPT,
    JSON.stringify(o.targets),
    String(o.intervalMs),
    String(o.timeoutMs),
  ];
}

/**
 * Starts the helper (`command` is docker, or for tests node running the script directly).
 * Its own process group: a Ctrl-C meant for the chaos run must not stop the measurement
 * before the restore is over.
 */
export function startPrivateProber(
  o: PrivateProberOptions,
  command: { file: string; args: string[] } = { file: "docker", args: proberArgs(o) },
): PrivateProber {
  const samples: PrivateSample[] = [];
  const child: ChildProcess = spawn(command.file, command.args, { stdio: ["pipe", "pipe", "pipe"], detached: true });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const seen = new Set<string>();
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const s = JSON.parse(line) as PrivateSample;
        samples.push(s);
        seen.add(s.probe);
        if (seen.size >= o.targets.length) resolve();
      } catch {
        // not a sample line: ignored
      }
    });
    void exited.then(() => reject(new Error(`the chaos probe on network ${o.network} stopped before its first samples: ${stderr.trim() || "no output"}`)));
  });
  ready.catch(() => undefined);
  return {
    ready,
    samples,
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      if (command.file === "docker") await docker(["rm", "-f", o.name], { allowFailure: true, detached: true });
    },
  };
}
