/**
 * The backup store's per-service quota (images/host-agent/src/store.ts, contracts/backups.ts)
 * over real mutual TLS: curl with a replica's client certificate, a raw TLS socket for a client
 * that lies about its length, and the replicas' own client (images/runtime/backupShip.ts) for
 * how a full store shows in its log and in GET /backups.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BACKUP_SHA256_HEADER } from "../../contracts/backups";
import type { HostAgent } from "../../images/host-agent/src/agent";
import { BackupStore, StoreError } from "../../images/host-agent/src/store";
import { Backups } from "../../images/runtime/backups";
import { BackupShipper } from "../../images/runtime/backupShip";
import { createLogger } from "../../images/runtime/log";
import { backupClients, startBackupStore } from "../support/backupStore";
import { makeManagementPki, type ManagementPki, type Pair } from "../support/managementPki";

const QUOTA = 10_000;
const silent = createLogger({ role: "host-agent", level: "silent" });

let pki: ManagementPki;
let agent: HostAgent;
let storeDir: string;
let work: string;
let url: string;
let clients: Record<string, Pair>;

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }).sort() : []);

/** curl (in its own process: the store runs in this one) PUTs `data` as `who`'s copy `path`: status and body. */
async function curlPut(who: string, path: string, data: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const file = join(work, `upload-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, data);
  const pair = clients[who]!;
  const { stdout: out } = await promisify(execFile)(
    "curl",
    [
      "-sS",
      "--cacert",
      pki.ca,
      "--cert",
      pair.cert,
      "--key",
      pair.key,
      "-X",
      "PUT",
      "-H",
      `${BACKUP_SHA256_HEADER}: ${headers.sha256 ?? sha(data)}`,
      "--data-binary",
      `@${file}`,
      "-w",
      "\n%{http_code}",
      `${url}${path}`,
    ],
    { encoding: "utf8" },
  );
  const lines = out.trimEnd().split("\n");
  return { status: Number(lines.pop()), body: lines.join("\n") };
}

beforeAll(async () => {
  pki = makeManagementPki(["127.0.0.1"]);
  clients = backupClients(pki, ["db/db-0", "db/db-1", "files/files-0"]);
  storeDir = mkdtempSync(join(tmpdir(), "sp-quota-store-"));
  work = mkdtempSync(join(tmpdir(), "sp-quota-client-"));
  ({ agent, url } = await startBackupStore(pki, silent, {
    clients: [
      { service: "db", retentionDays: 14, quotaBytes: QUOTA },
      { service: "files", retentionDays: 14, quotaBytes: QUOTA },
    ],
    storeDir,
  }));
});

afterAll(async () => {
  await agent?.management.close();
});

describe("backup store quota", () => {
  it("refuses a copy that would pass its service's quota with 507, keeps nothing of it, and another service still stores", async () => {
    expect((await curlPut("db/db-0", "/backups/db/db-0/app-20261206T010000000Z.dump", Buffer.alloc(6_000, 1))).status).toBe(201);
    const before = files(join(storeDir, "db"));
    const refused = await curlPut("db/db-0", "/backups/db/db-0/app-20261206T020000000Z.dump", Buffer.alloc(6_000, 2));
    expect(refused.status).toBe(507);
    expect(JSON.parse(refused.body).error).toMatch(/db's quota in this store is full: .* 12000 of 10000 bytes .*no copy is deleted to make room/);
    // Another replica of the same service shares the quota; nothing was dropped for either.
    expect((await curlPut("db/db-1", "/backups/db/db-1/app-20261206T020000000Z.dump", Buffer.alloc(6_000, 3))).status).toBe(507);
    expect(files(join(storeDir, "db"))).toEqual(before);
    expect(before).toEqual(["db-0", "db-0/app-20261206T010000000Z.dump", "db-0/app-20261206T010000000Z.dump.sha256"]);
    // files has a quota of its own.
    expect((await curlPut("files/files-0", "/backups/files/files-0/20261206T020000000Z.tar", Buffer.alloc(9_000, 4))).status).toBe(201);
    // What is left of db's quota is still usable.
    expect((await curlPut("db/db-1", "/backups/db/db-1/app-20261206T030000000Z.dump", Buffer.alloc(4_000, 5))).status).toBe(201);
    const metrics = await agent.management.registry.metrics();
    expect(metrics).toMatch(/serverpark_backup_store_used_bytes\{service="db"\} 10000/);
    expect(metrics).toMatch(/serverpark_backup_store_refused_total\{reason="507"\} 2/);
  });

  it("stops at the declared length a client that sends more, and counts nothing of it", async () => {
    const used = () => agent.management.registry.metrics().then((m) => Number(/serverpark_backup_store_used_bytes\{service="files"\} (\d+)/.exec(m)![1]));
    const usedBefore = await used();
    const pair = clients["files/files-0"]!;
    const body = Buffer.alloc(50_000, 9);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({
        host: "127.0.0.1",
        port: agent.management.port,
        servername: "127.0.0.1",
        cert: readFileSync(pair.cert),
        key: readFileSync(pair.key),
        ca: readFileSync(pki.ca),
      });
      let text = "";
      socket.on("data", (c: Buffer) => (text += c.toString()));
      socket.on("close", () => resolve(text));
      socket.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" || error.code === "EPIPE" ? resolve(text) : reject(error)));
      socket.on("secureConnect", () => {
        // Declares 500 bytes (which fit in the quota) and sends 50,000: what it checksummed.
        socket.write(
          `PUT /backups/files/files-0/20261206T040000000Z.tar HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 500\r\n${BACKUP_SHA256_HEADER}: ${sha(body)}\r\n\r\n`,
        );
        socket.end(body);
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).not.toMatch(/ 201 /);
    expect(files(join(storeDir, "files"))).toEqual(["files-0", "files-0/20261206T020000000Z.tar", "files-0/20261206T020000000Z.tar.sha256"]);
    expect(await used()).toBe(usedBefore);
  });

  it("reserves an upload's declared length while it streams, and frees it when the upload is cut", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-quota-reserve-"));
    const store = new BackupStore({ dir, clients: [{ service: "db", retentionDays: 7, quotaBytes: QUOTA }], maxBytes: 1 << 30, log: silent });
    await store.start();
    const slow = new PassThrough();
    const first = store.put("db", "db-0", "app-20261206T010000000Z.dump", slow, 8_000, "0".repeat(64));
    slow.write(Buffer.alloc(100));
    // The first upload is under way once its partial file is there.
    await vi.waitFor(() => expect(files(dir).some((f) => f.endsWith(".partial"))).toBe(true), { timeout: 20_000, interval: 20 });
    const data = Buffer.alloc(3_000, 1);
    await expect(store.put("db", "db-1", "app-20261206T010000000Z.dump", Readable.from([data]), data.length, sha(data))).rejects.toMatchObject({
      status: 507,
      message: expect.stringMatching(/0 stored, 8000 being received/),
    });
    slow.destroy(new Error("client went away"));
    await expect(first).rejects.toThrow("client went away");
    await store.put("db", "db-1", "app-20261206T010000000Z.dump", Readable.from([data]), data.length, sha(data));
    expect(files(dir)).toEqual(["db", "db/db-0", "db/db-1", "db/db-1/app-20261206T010000000Z.dump", "db/db-1/app-20261206T010000000Z.dump.sha256"]);
  });

  it("stops reading a body that runs past its declared length, and keeps nothing of it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-quota-overrun-"));
    const store = new BackupStore({ dir, clients: [{ service: "db", retentionDays: 7, quotaBytes: QUOTA }], maxBytes: 1 << 30, log: silent });
    await store.start();
    let pulled = 0;
    // 1 GiB that claims to be 5,000 bytes (within the quota): the store API gets any stream.
    const endless = new Readable({
      read() {
        if (pulled >= 1 << 30) return void this.push(null);
        pulled += 65_536;
        this.push(Buffer.alloc(65_536));
      },
    });
    const put = store.put("db", "db-0", "app-20261206T010000000Z.dump", endless, 5_000, "0".repeat(64));
    await expect(put).rejects.toBeInstanceOf(StoreError);
    await expect(put).rejects.toMatchObject({ status: 413 });
    expect(pulled).toBeLessThan(1 << 20);
    expect(files(dir)).toEqual(["db", "db/db-0"]);
  });
});

describe("a replica whose store is full", () => {
  it("logs the 507 and shows it in GET /backups beside the backup not shipped", async () => {
    const lines: string[] = [];
    const log = createLogger({ role: "file", level: "info", destination: { write: (line: string) => void lines.push(line) } });
    const shipper = new BackupShipper({
      url,
      host: "h6",
      service: "files",
      replica: "files-0",
      tls: { cert: clients["files/files-0"]!.cert, key: clients["files/files-0"]!.key, ca: pki.ca },
      log,
    });
    const dir = mkdtempSync(join(tmpdir(), "sp-quota-backups-"));
    const backups = new Backups({ dir, policy: {}, log, write: async (target) => (writeFileSync(join(target, "big.bin"), Buffer.alloc(20_000, 7)), 1) });
    backups.offsite = { shipper, host: "h2" };
    const { name } = await backups.run();
    const listed = await backups.list();
    const mine = listed.find((b) => b.name === name)!;
    expect(mine.copies).toEqual([{ kind: "volume", host: "h2" }]);
    expect(mine.shipFailed).toEqual({
      status: 507,
      at: expect.any(String),
      error: expect.stringMatching(/backup store on h6 is full for files and refused .*\.tar .*quota in this store is full/),
    });
    const logged = lines.map((l) => JSON.parse(l) as { event?: string; level: number; msg: string }).filter((l) => l.event === "backup-store-full");
    expect(logged).toHaveLength(1);
    expect(logged[0]!.msg).toMatch(/is full for files/);
  });
});
