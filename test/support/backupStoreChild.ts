/**
 * Starts test/support/backupStoreProcess.ts (the host agent's backup store in a process of its
 * own) and streams copies of any size through it with a replica's client certificate, generated
 * and checked on the fly so that neither side holds a copy in memory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { request, type RequestOptions } from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BACKUP_SHA256_HEADER } from "../../contracts/backups";
import type { startBackupStore } from "./backupStore";
import type { ManagementPki, Pair } from "./managementPki";

export interface StoreChild {
  readonly child: ChildProcess;
  readonly port: number;
  /** Peak resident memory of the agent process so far (VmHWM), bytes. */
  peakRss(): number;
  /** Current resident memory (VmRSS), bytes. */
  rss(): number;
  /** User + system CPU time of the agent process so far, seconds. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const status = (pid: number, field: string): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(/(\d+) kB/.exec(line)![1]) * 1024;
};

export async function startStoreChild(pki: ManagementPki, store: Omit<Parameters<typeof startBackupStore>[2], "pki">): Promise<StoreChild> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/support/backupStoreProcess.ts"], {
    env: { ...process.env, SP_TEST_STORE: JSON.stringify({ ...store, pki }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`backup store process exited with ${code}: ${stderr}`)));
  });
  const pid = child.pid!;
  return {
    child,
    port,
    peakRss: () => status(pid, "VmHWM"),
    rss: () => status(pid, "VmRSS"),
    cpuSeconds: () => {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** `bytes` of deterministic, non-repeating-looking data in 1 MiB chunks, made as they are read. */
export function generated(bytes: number): Readable {
  const block = createHash("sha512").update("seed").digest();
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i += block.length) block.copy(chunk, i);
  let sent = 0;
  let n = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return void this.push(null);
      const size = Math.min(chunk.length, bytes - sent);
      const out = Buffer.from(chunk.subarray(0, size));
      out.writeUInt32BE(n++ >>> 0, 0);
      sent += size;
      this.push(out);
    },
  });
}

/** The SHA-256 of `generated(bytes)`. */
export async function generatedSha256(bytes: number): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(generated(bytes), hash);
  return hash.digest("hex");
}

function tlsOptions(port: number, pair: Pair, ca: string, method: string, path: string): RequestOptions {
  return { method, hostname: "127.0.0.1", port, path, cert: readFileSync(pair.cert), key: readFileSync(pair.key), ca: readFileSync(ca) };
}

/** PUTs `generated(bytes)` to `path`; the store's status and answer. */
export async function putGenerated(
  port: number,
  pair: Pair,
  ca: string,
  path: string,
  bytes: number,
  sha256: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...tlsOptions(port, pair, ca, "PUT", path), headers: { "content-length": bytes, [BACKUP_SHA256_HEADER]: sha256 } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    generated(bytes).pipe(req);
  });
}

/** GETs `path` and hashes what comes back without keeping it: status, bytes and SHA-256. */
export async function getHashed(port: number, pair: Pair, ca: string, path: string): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = request(tlsOptions(port, pair, ca, "GET", path), (res) => {
      const hash = createHash("sha256");
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest("hex") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}
