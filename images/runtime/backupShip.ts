/**
 * A stateful replica's side of backups that leave the host (contracts/backups.ts): it ships
 * each finished backup file to the backup store of its `targetHost`'s agent over mutual TLS
 * with its own client certificate, lists the copies stored there, and fetches one back for a
 * restore when the local copy is gone. Files stream both ways (bounded memory); the store
 * checks the SHA-256 sent with an upload, and a fetched copy is checked against the store's
 * before it is renamed into place.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { request, type RequestOptions } from "node:https";
import type { IncomingMessage } from "node:http";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import {
  BACKUP_CLIENT_TLS_PATHS,
  BACKUP_ENV,
  BACKUP_SHA256_HEADER,
  BACKUP_STORE_FULL,
  BACKUP_STORE_PREFIX,
  storedCopySchema,
  type StoredCopy,
} from "../../contracts/backups";
import { TLS_PATHS } from "../../contracts/paths";
import { fsyncPath } from "./backups";
import type { Logger } from "./log";

export interface BackupShipperOptions {
  /** `https://<address>:<port>` of the target host's agent. */
  readonly url: string;
  /** The target host's id (for listings: where a copy lives). */
  readonly host: string;
  readonly service: string;
  readonly replica: string;
  /** The client certificate, its key and the datacenter CA (files, re-read on each request). */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string };
  readonly log: Logger;
}

/** Where one copy of a backup lives. */
export interface BackupLocation {
  /** `volume`: the replica's own backup volume; `store`: the backup store of a host's agent. */
  readonly kind: "volume" | "store";
  readonly host: string;
  /** The store's address, for `store`. */
  readonly url?: string;
  /** For a copy in the store shipped by another replica of the service. */
  readonly replica?: string;
}

/** Why the store last refused a copy (GET /backups shows it beside a copy not shipped yet). */
export interface ShipFailure {
  /** The store's status; 507: the service's quota there (or its disk) is full. */
  readonly status: number;
  readonly error: string;
  readonly at: string;
}

/** `{ shipFailed }` for a listing of copy `name` the store refused last time it was shipped. */
export function shipFailed(shipper: BackupShipper, name: string): { shipFailed?: ShipFailure } {
  const failure = shipper.failure(name);
  return failure ? { shipFailed: failure } : {};
}

/** The backup store a replica ships to, and the host its own backup volume is on. */
export interface Offsite {
  readonly shipper: BackupShipper;
  readonly host: string;
}

/** Where the replica (`config`: its runtime config) ships its backups, as the environment says; undefined when it names no store. */
export function offsiteFromEnv(config: { readonly service: string; readonly replica: string; readonly host: string }, log: Logger): Offsite | undefined {
  const shipper = shipperFromEnv(process.env, config.service, config.replica, log);
  if (!shipper) return undefined;
  log.info({ store: shipper.options.url, host: shipper.options.host }, "backups are shipped to the target host's store");
  return { shipper, host: config.host };
}

/** The shipper the environment describes (BACKUP_ENV), or undefined when it names no store. */
export function shipperFromEnv(env: NodeJS.ProcessEnv, service: string, replica: string, log: Logger): BackupShipper | undefined {
  const url = env[BACKUP_ENV.storeUrl];
  const host = env[BACKUP_ENV.storeHost];
  if (!url || !host) return undefined;
  return new BackupShipper({
    url,
    host,
    service,
    replica,
    tls: { cert: BACKUP_CLIENT_TLS_PATHS.cert, key: BACKUP_CLIENT_TLS_PATHS.key, ca: env.SP_TLS_CA ?? TLS_PATHS.ca },
    log,
  });
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

async function readAll(res: IncomingMessage, limit = 16 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error(`answer larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export class BackupShipper {
  /** The last refusal of each copy name not shipped since (bounded by the replica's own backups). */
  private readonly failures = new Map<string, ShipFailure>();

  constructor(readonly options: BackupShipperOptions) {}

  /** Why the store last refused copy `name`, if it has not taken it since. */
  failure(name: string): ShipFailure | undefined {
    return this.failures.get(name);
  }

  get location(): BackupLocation {
    return { kind: "store", host: this.options.host, url: this.options.url };
  }

  private async requestOptions(method: string, path: string): Promise<RequestOptions> {
    const [cert, key, ca] = await Promise.all([this.options.tls.cert, this.options.tls.key, this.options.tls.ca].map((f) => readFile(f, "utf8")));
    const url = new URL(path, this.options.url);
    return { method, hostname: url.hostname, port: url.port, path: url.pathname, cert, key, ca, minVersion: "TLSv1.2", timeout: 30_000 };
  }

  private send(options: RequestOptions, body?: (req: NodeJS.WritableStream) => Promise<void>): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = request(options, resolve);
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error(`backup store ${this.options.url} did not answer for 30 s`)));
      if (body) body(req).catch((error: unknown) => req.destroy(error as Error));
      else req.end();
    });
  }

  /** Ships one finished backup file under its own name; an already stored copy counts as shipped. */
  async ship(path: string, name = basename(path)): Promise<void> {
    const [sha256, info] = await Promise.all([sha256Of(path), stat(path)]);
    const options = await this.requestOptions("PUT", this.copyPath(this.options.replica, name));
    options.headers = { "content-length": info.size, [BACKUP_SHA256_HEADER]: sha256, "content-type": "application/octet-stream" };
    const res = await this.send(options, (req) => pipeline(createReadStream(path), req));
    const text = await readAll(res);
    if (res.statusCode === 201 || res.statusCode === 409) {
      this.failures.delete(name);
      this.options.log.info({ event: "backup-shipped", name, bytes: info.size, host: this.options.host, already: res.statusCode === 409 }, "backup shipped");
      return;
    }
    const status = res.statusCode ?? 0;
    const reason = text.trim().slice(0, 500);
    const full = status === BACKUP_STORE_FULL;
    const error = full
      ? `backup store on ${this.options.host} is full for ${this.options.service} and refused ${name} (${info.size} bytes): ${reason}`
      : `backup store on ${this.options.host} refused ${name}: ${status} ${reason}`;
    this.failures.set(name, { status, error, at: new Date().toISOString() });
    if (full) this.options.log.error({ event: "backup-store-full", name, bytes: info.size, host: this.options.host }, error);
    throw new Error(error);
  }

  /** The service's copies in the store. */
  async list(): Promise<StoredCopy[]> {
    const res = await this.send(await this.requestOptions("GET", `${BACKUP_STORE_PREFIX}${encodeURIComponent(this.options.service)}`));
    const text = await readAll(res);
    if (res.statusCode !== 200) throw new Error(`backup store on ${this.options.host} answered ${res.statusCode} ${text.trim().slice(0, 300)}`);
    return z.array(storedCopySchema).parse(JSON.parse(text));
  }

  /**
   * Fetches a copy into `dest` (written beside it under `.partial`, checked, fsynced, renamed).
   * Without `replica`, the newest copy of that name of any replica of the service.
   */
  async fetch(name: string, dest: string, replica?: string): Promise<StoredCopy> {
    const copies = (await this.list()).filter((c) => c.name === name && (replica === undefined || c.replica === replica));
    const copy = copies.find((c) => c.replica === this.options.replica) ?? copies.at(-1);
    if (!copy) throw new Error(`no copy named ${name} in the backup store on ${this.options.host}`);
    const res = await this.send(await this.requestOptions("GET", this.copyPath(copy.replica, name)));
    if (res.statusCode !== 200) throw new Error(`backup store on ${this.options.host} answered ${res.statusCode} ${(await readAll(res)).trim().slice(0, 300)}`);
    const partial = join(dirname(dest), `.${basename(dest)}.fetch.partial`);
    const hash = createHash("sha256");
    try {
      res.on("data", (chunk: Buffer) => hash.update(chunk));
      await pipeline(res, createWriteStream(partial, { mode: 0o600 }));
      const actual = hash.digest("hex");
      if (actual !== copy.sha256) throw new Error(`fetched copy's SHA-256 is ${actual}, the store's is ${copy.sha256}`);
      await fsyncPath(partial);
      await rename(partial, dest);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    this.options.log.info({ event: "backup-fetched", name, from: copy.replica, host: this.options.host, bytes: copy.bytes }, "backup fetched from the store");
    return copy;
  }

  private copyPath(replica: string, name: string): string {
    return `${BACKUP_STORE_PREFIX}${[this.options.service, replica, name].map(encodeURIComponent).join("/")}`;
  }
}

const runTar = (args: readonly string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile("tar", args, { maxBuffer: 64 * 1024 * 1024, timeout: 60 * 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`tar ${args[0]} failed: ${stderr.trim().slice(0, 300) || error.message}`)) : resolve(stdout),
    ),
  );

/**
 * Packs the complete backup folder `<dir>/<name>` into one file for the store (`tar`, the
 * image's own: Debian's or busybox's), written beside it under `.partial`; returns its path.
 */
export async function packFolder(dir: string, name: string): Promise<string> {
  const file = join(dir, `.${name}.tar.partial`);
  await runTar(["-cf", file, "-C", dir, name]);
  return file;
}

/** fsyncs every file and folder under `path` (only files and folders: unpackFolder allows nothing else), each folder after what it holds. */
async function fsyncTree(path: string): Promise<void> {
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await fsyncTree(join(path, entry.name));
    else if (entry.isFile()) await fsyncPath(join(path, entry.name));
  }
  await fsyncPath(path);
}

/**
 * Unpacks a fetched archive of backup `name` into `<dir>/<name>`, complete or not at all: every
 * member must be a plain file or folder under `<name>/` (an archive from another replica of the
 * service is not trusted to stay inside it), unpacked under `.partial`, every file and folder
 * fsynced (tar writes none of them durably), renamed, and `dir` fsynced.
 */
export async function unpackFolder(archive: string, dir: string, name: string): Promise<void> {
  const listing = await runTar(["-tvf", archive]);
  const members = await runTar(["-tf", archive]);
  for (const line of listing.split("\n").filter(Boolean))
    if (!/^[-d]/.test(line)) throw new Error(`archive of ${name} holds something other than files and folders: ${line.slice(0, 200)}`);
  for (const member of members.split("\n").filter(Boolean))
    if (!(member === name || member === `${name}/` || member.startsWith(`${name}/`)) || member.split("/").includes(".."))
      throw new Error(`archive of ${name} holds ${member.slice(0, 200)}, outside ${name}/`);
  const stage = join(dir, `.${name}.restore.partial`);
  await rm(stage, { recursive: true, force: true });
  await mkdir(stage, { recursive: true });
  try {
    await runTar(["-xf", archive, "-C", stage]);
    await fsyncTree(join(stage, name));
    await rename(join(stage, name), join(dir, name));
    await fsyncPath(dir);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
