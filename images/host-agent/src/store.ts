/**
 * The backup store a host agent keeps for the services whose `backup.targetHost` is its host
 * (contracts/backups.ts): copies shipped by their replicas over mutual TLS, on a volume of the
 * agent's own.
 *
 *   <dir>/<service>/<replica>/<name>           a complete copy
 *   <dir>/<service>/<replica>/<name>.sha256    its checksum, written before the copy is linked in
 *   <dir>/<service>/<replica>/.<name>.<n>.partial  one being received; never listed, removed on failure and at start
 *
 * An upload streams to disk (bounded memory) under a size limit; its length and SHA-256 are
 * checked against what the client declared before it is fsynced and renamed, so a cut or
 * corrupted upload leaves nothing. Names are never overwritten, nothing is deleted over the
 * network, and retention (the service's `retentionDays`) never deletes a replica's newest copy.
 *
 * Each service has a quota (`quotaBytes`, contracts/backups.ts): the bytes of its complete copies
 * (kept in memory, counted at start) plus those reserved by uploads under way. An upload
 * reserves its declared content-length before its body is read, or is refused with 507; while
 * it streams, no byte beyond that reservation is written. Nothing is deleted to make room: a
 * replica's older copies are the history a restore needs if that replica was compromised, so
 * room comes back only by retention, applied to the whole service before an upload is weighed.
 * The `.sha256` beside each copy (65 bytes) is not counted.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { link, mkdir, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Counter, Gauge, type Registry } from "prom-client";
import {
  BACKUP_OBJECT_NAME,
  BACKUP_STORE_FULL,
  BACKUP_SHA256_HEADER,
  BACKUP_STORE_PREFIX,
  copyTime,
  DEFAULT_BACKUP_QUOTA_BYTES,
  mayUseStore,
  parseBackupClientName,
  type BackupClients,
  type StoredCopy,
} from "../../../contracts/backups";
import { BACKUP_CALLER_PREFIX, type Logger, type StreamRoute } from "../../runtime";
import { fsyncPath } from "../../runtime/backups";

/** A copy dated further ahead than this is refused: it would outlive every retention. */
const MAX_FUTURE_MS = 86_400_000;

/**
 * Sends a file through one reused buffer, each chunk written before the next is read: a stream
 * would allocate a buffer per chunk, which under the agent's 128 MB cap pile up until the
 * collector runs (measured: +34 MiB for a 512 MiB copy, against +18 MiB for receiving one).
 */
async function sendFile(path: string, res: ServerResponse): Promise<void> {
  const file = await open(path, "r");
  const buffer = Buffer.allocUnsafe(64 * 1024);
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      if (res.destroyed) throw new Error("client went away");
      await new Promise<void>((resolve, reject) => res.write(buffer.subarray(0, bytesRead), (error) => (error ? reject(error) : resolve())));
    }
    await new Promise<void>((resolve) => res.end(resolve));
  } finally {
    await file.close();
  }
}

export class StoreError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface BackupStoreOptions {
  readonly dir: string;
  readonly clients: BackupClients;
  readonly maxBytes: number;
  readonly log: Logger;
  readonly registry?: Registry;
  /** For tests. */
  readonly now?: () => Date;
}

export class BackupStore {
  private readonly now: () => Date;
  private readonly retention: ReadonlyMap<string, number>;
  private readonly quota: ReadonlyMap<string, number>;
  /** Bytes of each service's complete copies. */
  private readonly used = new Map<string, number>();
  /** Bytes reserved by each service's uploads under way. */
  private readonly reserved = new Map<string, number>();
  private readonly stored?: Counter<"service">;
  private readonly refused?: Counter<"reason">;
  private seq = 0;

  constructor(private readonly options: BackupStoreOptions) {
    this.now = options.now ?? (() => new Date());
    this.retention = new Map(options.clients.map((c) => [c.service, c.retentionDays]));
    this.quota = new Map(options.clients.map((c) => [c.service, c.quotaBytes ?? DEFAULT_BACKUP_QUOTA_BYTES]));
    if (options.registry) {
      const usage = (bytes: (service: string) => number) =>
        function (this: Gauge<"service">) {
          for (const service of options.clients.map((c) => c.service)) this.set({ service }, bytes(service));
        };
      new Gauge({
        name: "serverpark_backup_store_used_bytes",
        help: "Bytes of a service's stored copies and uploads under way",
        labelNames: ["service"],
        registers: [options.registry],
        collect: usage((service) => (this.used.get(service) ?? 0) + (this.reserved.get(service) ?? 0)),
      });
      new Gauge({
        name: "serverpark_backup_store_quota_bytes",
        help: "Bytes a service's copies may take in this store",
        labelNames: ["service"],
        registers: [options.registry],
        collect: usage((service) => this.quota.get(service) ?? 0),
      });
      this.stored = new Counter({
        name: "serverpark_backup_store_copies_total",
        help: "Copies stored",
        labelNames: ["service"],
        registers: [options.registry],
      });
      this.refused = new Counter({
        name: "serverpark_backup_store_refused_total",
        help: "Uploads refused or failed",
        labelNames: ["reason"],
        registers: [options.registry],
      });
    }
  }

  /** Removes what a crash left of uploads and counts what each service holds. */
  async start(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    for (const service of await readdir(this.options.dir).catch(() => [] as string[])) {
      for (const replica of await readdir(join(this.options.dir, service)).catch(() => [] as string[])) {
        const folder = join(this.options.dir, service, replica);
        const names = await readdir(folder).catch(() => [] as string[]);
        for (const name of names)
          // A checksum whose copy never arrived (a crash between the two) would make its name look taken.
          if (name.endsWith(".partial") || (name.endsWith(".sha256") && !names.includes(name.slice(0, -".sha256".length))))
            await rm(join(folder, name), { force: true });
      }
      this.used.set(
        service,
        (await this.list(service)).reduce((sum, c) => sum + c.bytes, 0),
      );
    }
  }

  /** Reserves `length` bytes of the service's quota for one upload, or refuses it with 507. */
  private reserve(service: string, replica: string, name: string, length: number): () => void {
    const quota = this.quota.get(service) ?? DEFAULT_BACKUP_QUOTA_BYTES;
    const used = this.used.get(service) ?? 0;
    const reserved = this.reserved.get(service) ?? 0;
    if (used + reserved + length > quota) {
      this.refused?.inc({ reason: String(BACKUP_STORE_FULL) });
      this.options.log.warn(
        { event: "backup-store-full", service, replica, name, bytes: length, used, reserved, quota },
        "backup copy refused: over the service's quota",
      );
      throw new StoreError(
        BACKUP_STORE_FULL,
        `${service}'s quota in this store is full: ${name} (${length} bytes) would bring it to ${used + reserved + length} of ${quota} bytes ` +
          `(${used} stored, ${reserved} being received); no copy is deleted to make room, older ones leave by retention (${this.retention.get(service)} days)`,
      );
    }
    this.reserved.set(service, reserved + length);
    let released = false;
    return () => {
      if (!released) this.reserved.set(service, (this.reserved.get(service) ?? 0) - length);
      released = true;
    };
  }

  /** Throws 403 unless `caller` may do `access` on the service (and replica). */
  authorise(caller: string, service: string, replica: string | undefined, access: "read" | "write"): void {
    if (caller === "local" && access === "read") return;
    const client = caller.startsWith(BACKUP_CALLER_PREFIX) ? parseBackupClientName(caller.slice(BACKUP_CALLER_PREFIX.length)) : undefined;
    if (!client || !this.retention.has(client.service) || !mayUseStore(client, service, replica, access))
      throw new StoreError(403, `${client ? `${client.service}/${client.replica}` : caller} may not ${access} ${service}${replica ? `/${replica}` : ""} here`);
  }

  /** Receives one copy from `body`; `length` and `sha256` are what the client declared. */
  async put(service: string, replica: string, name: string, body: NodeJS.ReadableStream, length: number, sha256: string): Promise<StoredCopy> {
    const takenAt = copyTime(name);
    if (!takenAt) throw new StoreError(400, `"${name}" is not a copy name (one file name with a UTC stamp such as 20261127T020000123Z)`);
    if (takenAt.getTime() > this.now().getTime() + MAX_FUTURE_MS) throw new StoreError(400, `"${name}" is dated in the future`);
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new StoreError(400, `expected the copy's SHA-256 in ${BACKUP_SHA256_HEADER}`);
    if (!Number.isSafeInteger(length) || length < 0) throw new StoreError(411, "expected a content-length");
    if (length > this.options.maxBytes) throw new StoreError(413, `copy of ${length} bytes is larger than this store's limit of ${this.options.maxBytes}`);
    const folder = join(this.options.dir, service, replica);
    const final = join(folder, name);
    if (await stat(final).catch(() => undefined)) throw new StoreError(409, `${service}/${replica}/${name} is already stored; copies are never overwritten`);
    // Retention first: what it deletes is room this upload may take.
    await this.pruneService(service);
    const release = this.reserve(service, replica, name, length);
    await mkdir(folder, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      release();
      throw error;
    });
    const partial = join(folder, `.${name}.${process.pid}-${this.seq++}-${randomBytes(4).toString("hex")}.partial`);
    const hash = createHash("sha256");
    let received = 0;
    const limit = this.options.maxBytes;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        // Never more than was declared, and so reserved: the quota holds while the body streams.
        if (received > length || received > limit) return done(new StoreError(413, `copy is longer than the ${Math.min(length, limit)} bytes declared`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    let claimed = false;
    try {
      await pipeline(body, count, createWriteStream(partial, { mode: 0o600 }));
      if (received !== length) throw new StoreError(400, `copy ended after ${received} of ${length} bytes`);
      const actual = hash.digest("hex");
      if (actual !== sha256) throw new StoreError(400, `copy's SHA-256 is ${actual}, not the ${sha256} declared`);
      await fsyncPath(partial);
      // Neither the checksum nor the copy replaces one another upload of the same name put there meanwhile.
      await writeFile(`${final}.sha256`, `${sha256}\n`, { mode: 0o600, flush: true, flag: "wx" });
      claimed = true;
      await link(partial, final);
      await rm(partial);
      this.used.set(service, (this.used.get(service) ?? 0) + length);
      release();
      await fsyncPath(folder);
    } catch (caught) {
      release();
      await rm(partial, { force: true });
      if (claimed && !(await stat(final).catch(() => undefined))) await rm(`${final}.sha256`, { force: true });
      const code = (caught as NodeJS.ErrnoException).code;
      const error =
        code === "ENOSPC"
          ? new StoreError(BACKUP_STORE_FULL, "the store's disk is full")
          : code === "EEXIST"
            ? new StoreError(409, `${service}/${replica}/${name} is already stored; copies are never overwritten`)
            : caught;
      this.refused?.inc({ reason: error instanceof StoreError ? String(error.status) : "io" });
      throw error;
    }
    this.stored?.inc({ service });
    const pruned = await this.pruneService(service);
    this.options.log.info({ event: "backup-stored", service, replica, name, bytes: length, pruned }, "backup copy stored");
    return { service, replica, name, bytes: length, sha256, takenAt: takenAt.toISOString() };
  }

  /** Every complete copy of a service, oldest first per replica. */
  async list(service: string): Promise<StoredCopy[]> {
    const out: StoredCopy[] = [];
    const root = join(this.options.dir, service);
    for (const replica of (await readdir(root).catch(() => [] as string[])).sort()) {
      for (const name of (await readdir(join(root, replica))).sort()) {
        const takenAt = copyTime(name);
        if (!takenAt || name.startsWith(".")) continue;
        const sha256 = (await readFile(join(root, replica, `${name}.sha256`), "utf8").catch(() => "")).trim();
        const info = await stat(join(root, replica, name)).catch(() => undefined);
        if (!info || !/^[0-9a-f]{64}$/.test(sha256)) continue;
        out.push({ service, replica, name, bytes: info.size, sha256, takenAt: takenAt.toISOString() });
      }
    }
    return out;
  }

  /** One copy's path and checksum, or 404. */
  async copy(service: string, replica: string, name: string): Promise<StoredCopy & { path: string }> {
    const found = (await this.list(service)).find((c) => c.replica === replica && c.name === name);
    if (!found) throw new StoreError(404, `no copy ${service}/${replica}/${name}`);
    return { ...found, path: join(this.options.dir, service, replica, name) };
  }

  /** Deletes each replica's copies older than the service's retention, never a replica's newest; returns `<replica>/<name>`s. */
  async pruneService(service: string): Promise<string[]> {
    const days = this.retention.get(service);
    if (days === undefined) return [];
    const cutoff = this.now().getTime() - days * 86_400_000;
    const byReplica = new Map<string, StoredCopy[]>();
    for (const c of await this.list(service)) byReplica.set(c.replica, [...(byReplica.get(c.replica) ?? []), c]);
    const doomed = [...byReplica.values()].flatMap((copies) =>
      copies
        .sort((a, b) => a.takenAt.localeCompare(b.takenAt))
        .slice(0, -1)
        .filter((c) => new Date(c.takenAt).getTime() < cutoff),
    );
    for (const c of doomed) {
      await rm(join(this.options.dir, service, c.replica, c.name), { force: true });
      await rm(join(this.options.dir, service, c.replica, `${c.name}.sha256`), { force: true });
      this.used.set(service, (this.used.get(service) ?? 0) - c.bytes);
    }
    return doomed.map((c) => `${c.replica}/${c.name}`);
  }

  /** The store's routes on the agent's management port (images/runtime/management.ts StreamRoute). */
  routes(): StreamRoute[] {
    const parse = (url: URL) => {
      const parts = url.pathname.slice(BACKUP_STORE_PREFIX.length).split("/").map(decodeURIComponent);
      if (parts.some((p) => p === "" || p === "." || p === ".." || !BACKUP_OBJECT_NAME.test(p)) || parts.length > 3 || parts.length === 2)
        throw new StoreError(404, `no such path: ${url.pathname}`);
      return { service: parts[0]!, replica: parts[1], name: parts[2] };
    };
    const guarded = (fn: (req: IncomingMessage, res: ServerResponse, caller: string, url: URL) => Promise<void>): StreamRoute["stream"] => {
      return async (req, res, caller, url) => {
        try {
          await fn(req, res, caller, url);
        } catch (error) {
          if (!(error instanceof StoreError)) throw error;
          if (error.status === 403) this.options.log.warn({ event: "backup-store-denied", caller, path: url.pathname }, "backup store request refused");
          if (res.headersSent) return void res.destroy();
          const text = `${JSON.stringify({ error: error.message })}\n`;
          // An upload refused before its body was read: close the connection rather than drain it.
          res.writeHead(error.status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), connection: "close" });
          res.end(text);
        }
      };
    };
    const json = (res: ServerResponse, status: number, body: unknown) => {
      const text = `${JSON.stringify(body)}\n`;
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    return [
      {
        method: "PUT",
        prefix: BACKUP_STORE_PREFIX,
        stream: guarded(async (req, res, caller, url) => {
          const { service, replica, name } = parse(url);
          if (!replica || !name) throw new StoreError(404, `expected PUT ${BACKUP_STORE_PREFIX}<service>/<replica>/<name>`);
          this.authorise(caller, service, replica, "write");
          const sha256 = String(req.headers[BACKUP_SHA256_HEADER] ?? "");
          const length = req.headers["content-length"] === undefined ? Number.NaN : Number(req.headers["content-length"]);
          json(res, 201, await this.put(service, replica, name, req, length, sha256));
        }),
      },
      {
        method: "GET",
        prefix: BACKUP_STORE_PREFIX,
        stream: guarded(async (_req, res, caller, url) => {
          const { service, replica, name } = parse(url);
          this.authorise(caller, service, replica, "read");
          if (!replica || !name) return json(res, 200, await this.list(service));
          const copy = await this.copy(service, replica, name);
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": copy.bytes, [BACKUP_SHA256_HEADER]: copy.sha256 });
          await sendFile(copy.path, res);
        }),
      },
    ];
  }
}
