/**
 * Back-ends (the db, the file server's SFTP) are not published: they are probed from the
 * datacenter's private network, as the services that use them reach them. One short-lived
 * helper container on that network (the locally made base image, `node` only, no Docker
 * socket, no capabilities, read-only, an address the plan never hands out) runs
 * PROBE_SCRIPT: every interval it opens a fresh connection to each target and prints one
 * JSON line per attempt. Attempts:
 *
 * - `postgres-query`: logs in with the db service's application login (its generated
 *   password, read from the deployment: cli/chaos/secrets.ts) and asks
 *   `SHOW transaction_read_only`, as libpq's `target_session_attrs=read-write` does; up only
 *   when the session can write (`off`). A highly available db's data nodes are probed each
 *   (cli/chaos/probes/index.ts): its standbys answer `on`, so the service is up while its
 *   primary answers, and down from the primary's loss until a standby is promoted. While
 *   PostgreSQL is starting up or recovering it refuses the login (SQLSTATE 57P03): down.
 * - `sftp-login`: logs in over SSH with the file service's first user and lists its home
 *   folder over SFTP; up only when the listing comes back.
 * - Without the deployment's secrets (neither `serverpark lab` state nor Pulumi's), the
 *   handshakes only: `postgres`, the startup handshake for a login that does not exist (up
 *   on an authentication request or a refused login; down on 57P* starting up / shutting
 *   down, 53* cannot take the connection, or silence); `ssh`, the `SSH-2.0-` greeting.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { docker } from "../../../lab/docker-cli";

export interface PrivateTarget {
  readonly probe: string;
  /**
   * `postgres`, `ssh`: the handshake only (no credentials); `postgres-query`: log in and ask
   * whether the session can write; `sftp-login`: log in over SSH and list the home folder over SFTP.
   */
  readonly kind: "postgres" | "ssh" | "postgres-query" | "sftp-login";
  readonly host: string;
  readonly port: number;
  /** The login (not secret) for the kinds that log in; the password goes over stdin. */
  readonly user?: string;
  readonly database?: string;
}

export interface PrivateSample {
  readonly probe: string;
  /** Epoch milliseconds when a success was answered, when a failure was asked. */
  readonly t: number;
  /** Epoch milliseconds when the attempt was asked. */
  readonly asked?: number;
  readonly ok: boolean;
  readonly why?: string;
  /** Which round of the helper asked it: the targets of one probe (an HA db's data nodes) asked in the same round are one observation. */
  readonly round?: number;
}

/**
 * Runs as `node -e PROBE_SCRIPT <targets JSON> <interval ms> <timeout ms>`. Its first line on
 * stdin is `{passwords, ca}` (probe → password, and the datacenter CA; never on the command line, which `ps` and
 * `docker inspect` show); it stops when stdin ends. The logins use the `pg` and `ssh2`
 * packages (mounted read-only from the project's node_modules).
 */
export const PROBE_SCRIPT = `"use strict";
const net = require("node:net");
const [targets, intervalMs, timeoutMs] = [JSON.parse(process.argv[1]), Number(process.argv[2]), Number(process.argv[3])];
const params = Buffer.from("user\\0serverpark_chaos_probe\\0database\\0postgres\\0application_name\\0serverpark-chaos\\0\\0");
const startup = Buffer.alloc(8 + params.length);
startup.writeInt32BE(startup.length, 0);
startup.writeInt32BE(196608, 4);
params.copy(startup, 8);
let passwords = {};
let ca;
// One login at a time per target (a probe may have several: an HA db's data nodes).
const busy = new Set();
const key = (t) => t.probe + "@" + t.host + ":" + t.port;
let rounds = 0;
function sqlstate(buf) {
  for (let i = 5; i < buf.length && buf[i] !== 0; ) {
    const end = buf.indexOf(0, i + 1);
    if (end < 0) break;
    if (buf[i] === 67) return buf.toString("utf8", i + 1, end);
    i = end + 1;
  }
  return "";
}
function handshake(t, finish) {
  const s = net.connect({ host: t.host, port: t.port });
  let buf = Buffer.alloc(0);
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
  return () => s.destroy();
}
function query(t, finish) {
  const { Client } = require("pg");
  // The db takes network logins over TLS only; the password goes only to a server the datacenter CA vouches for.
  if (!ca) return finish(false, "no datacenter CA to verify the db"), () => undefined;
  const c = new Client({ host: t.host, port: t.port, user: t.user, database: t.database, password: passwords[t.probe] || "", connectionTimeoutMillis: timeoutMs, ssl: { ca, minVersion: "TLSv1.2" } });
  c.on("error", () => undefined);
  c.connect()
    .then(() => c.query("SHOW transaction_read_only"))
    .then((r) => finish(r.rows.length === 1 && r.rows[0].transaction_read_only === "off", "read-only (a standby)"))
    .catch((e) => finish(false, e.code ? "SQLSTATE " + e.code : e.message));
  return () => c.end().catch(() => undefined);
}
function sftp(t, finish) {
  const { Client } = require("ssh2");
  const c = new Client();
  c.on("error", (e) => finish(false, e.level === "client-authentication" ? "login refused" : e.code || e.message));
  c.on("close", () => finish(false, "closed"));
  c.on("ready", () =>
    c.sftp((err, s) => {
      if (err) return finish(false, "no sftp subsystem");
      s.readdir(".", (e) => finish(!e, e ? "cannot list the home folder" : undefined));
    }),
  );
  c.connect({ host: t.host, port: t.port, username: t.user, password: passwords[t.probe] || "", readyTimeout: timeoutMs, tryKeyboard: false });
  return () => c.end();
}
function check(t) {
  return new Promise((resolve) => {
    let settled = false;
    let holds = false;
    let close = () => undefined;
    const finish = (ok, why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (holds) busy.delete(key(t));
      close();
      resolve(ok ? { ok } : { ok, why });
    };
    const timer = setTimeout(() => finish(false, "timeout"), timeoutMs);
    if (t.kind !== "postgres-query" && t.kind !== "sftp-login") return (close = handshake(t, finish));
    // One login at a time per target (see oneLoginAtATime in protocols.ts): connect first; a
    // tick that finds the previous login still under way records nothing (ok: null).
    const s = net.connect({ host: t.host, port: t.port });
    close = () => s.destroy();
    s.on("error", (e) => finish(false, e.code || e.message));
    s.on("connect", () => {
      s.destroy();
      if (busy.has(key(t))) return finish(null);
      busy.add(key(t));
      holds = true;
      close = (t.kind === "postgres-query" ? query : sftp)(t, finish);
    });
  });
}
function round() {
  const n = ++rounds;
  const byProbe = new Map();
  for (const t of targets) byProbe.set(t.probe, [...(byProbe.get(t.probe) || []), t]);
  for (const [probe, group] of byProbe) {
    const start = Date.now();
    // An answer means the service was up when it came; a failure, that it was not when asked.
    const write = (r) => process.stdout.write(JSON.stringify({ probe, t: r.ok ? Date.now() : start, asked: start, round: n, ...r }) + "\\n");
    Promise.all(group.map((t) => check(t).then((r) => (r.ok && write(r), r)))).then((results) => {
      // A target whose previous login is still under way (null) may be the one that answers (a
      // loaded primary): the others' failures (a standby's read-only) then decide nothing.
      if (results.some((r) => r.ok === null)) return;
      for (const r of results) if (r.ok === false) write(r);
    });
  }
}
let input = "";
let started = false;
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  if (started) return;
  input += chunk;
  const nl = input.indexOf("\\n");
  if (nl < 0) return;
  ({ passwords = {}, ca } = JSON.parse(input.slice(0, nl) || "{}"));
  input = "";
  started = true;
  round();
  setInterval(round, intervalMs);
});
process.stdin.on("end", () => process.exit(0));
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
  /** probe → password, for the kinds that log in; written to the helper's stdin. */
  readonly passwords?: Readonly<Record<string, string>>;
  /** The datacenter CA (PEM): `postgres-query` verifies the db's certificate with it (written to stdin too). */
  readonly ca?: string;
  /** The project's node_modules (its real path), mounted read-only for the logins' clients. */
  readonly nodeModules?: string;
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
    ...(o.nodeModules ? ["--volume", `${o.nodeModules}:/opt/probe/node_modules:ro`, "--env", "NODE_PATH=/opt/probe/node_modules"] : []),
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
  child.stdin!.on("error", () => undefined); // a helper that failed to start: its exit says why
  child.stdin!.write(`${JSON.stringify({ passwords: o.passwords ?? {}, ...(o.ca ? { ca: o.ca } : {}) })}\n`);
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const seen = new Set<string>();
  // One probe may have several targets (an HA db's data nodes): ready once every probe has sampled.
  const probes = new Set(o.targets.map((t) => t.probe)).size;
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const s = JSON.parse(line) as PrivateSample;
        samples.push(s);
        seen.add(s.probe);
        if (seen.size >= probes) resolve();
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
