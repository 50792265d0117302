/**
 * The host agent's backup store (images/host-agent/src/store.ts) over real mutual TLS, with the
 * replicas' own client (images/runtime/backupShip.ts): who may write and read which copies, the
 * size limit, checksums, and that a cut or refused upload leaves nothing behind.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BACKUP_SHA256_HEADER } from "../../contracts/backups";
import type { HostAgent } from "../../images/host-agent/src/agent";
import { BackupStore } from "../../images/host-agent/src/store";
import { Backups, copyTreeDurably } from "../../images/runtime/backups";
import { BackupShipper } from "../../images/runtime/backupShip";
import { createLogger } from "../../images/runtime/log";
import { backupClients, startBackupStore } from "../support/backupStore";
import { makeManagementPki, type ManagementPki, type Pair } from "../support/managementPki";

const log = createLogger({ role: "host-agent", level: "silent" });
const LIMIT = 64 * 1024;

let pki: ManagementPki;
let agent: HostAgent;
let storeDir: string;
let work: string;
let url: string;
let clients: Record<string, Pair>;

const shipper = (service: string, replica: string, pair = clients[`${service}/${replica}`]!) =>
  new BackupShipper({ url, host: "h6", service, replica, tls: { cert: pair.cert, key: pair.key, ca: pki.ca }, log });

/** A raw request with a client certificate: status and body. */
function raw(
  pair: Pair,
  method: string,
  path: string,
  headers: Record<string, string | number> = {},
  body?: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        method,
        hostname: "127.0.0.1",
        port: agent.management.port,
        path,
        headers,
        cert: readFileSync(pair.cert),
        key: readFileSync(pair.key),
        ca: readFileSync(pki.ca),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }) : []);
const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

beforeAll(async () => {
  pki = makeManagementPki(["127.0.0.1"]);
  clients = backupClients(pki, ["db/db-0", "db/db-1", "files/files-0", "mail/mail-0"]);
  storeDir = mkdtempSync(join(tmpdir(), "sp-store-"));
  work = mkdtempSync(join(tmpdir(), "sp-store-client-"));
  // mail does not store here: its certificate is valid, its service is not a client of this host.
  ({ agent, url } = await startBackupStore(pki, log, {
    clients: [
      { service: "db", retentionDays: 14 },
      { service: "files", retentionDays: 14 },
    ],
    storeDir,
    maxBytes: LIMIT,
  }));
});

afterAll(async () => {
  await agent?.management.close();
});

describe("backup store", () => {
  it("stores a replica's copy, lists it for its service and gives the same bytes back", async () => {
    const data = Buffer.from("-- pg_dump custom format stand-in\n".repeat(500));
    const path = join(work, "app-20261206T020000000Z.dump");
    writeFileSync(path, data);
    await shipper("db", "db-0").ship(path);
    const listed = await shipper("db", "db-0").list();
    expect(listed).toEqual([
      { service: "db", replica: "db-0", name: "app-20261206T020000000Z.dump", bytes: data.length, sha256: sha(data), takenAt: "2026-12-06T02:00:00.000Z" },
    ]);
    // Another replica of the same service (rebuilt elsewhere) restores from it.
    const dest = join(work, "fetched.dump");
    await shipper("db", "db-1").fetch("app-20261206T020000000Z.dump", dest);
    expect(readFileSync(dest).equals(data)).toBe(true);
    // Shipping the same copy again changes nothing (the store never overwrites).
    await shipper("db", "db-0").ship(path);
    expect(await shipper("db", "db-0").list()).toHaveLength(1);
  });

  it("lets a replica write only under its own name and read only its own service", async () => {
    const data = Buffer.from("x".repeat(100));
    const put = (pair: Pair, path: string) => raw(pair, "PUT", path, { "content-length": data.length, [BACKUP_SHA256_HEADER]: sha(data) }, data);
    // db-0 may not write as db-1, nor into files.
    expect((await put(clients["db/db-0"]!, "/backups/db/db-1/app-20261206T030000000Z.dump")).status).toBe(403);
    expect((await put(clients["db/db-0"]!, "/backups/files/files-0/20261206T030000000Z.tar")).status).toBe(403);
    // files may not list or fetch db's copies.
    expect((await raw(clients["files/files-0"]!, "GET", "/backups/db")).status).toBe(403);
    expect((await raw(clients["files/files-0"]!, "GET", "/backups/db/db-0/app-20261206T020000000Z.dump")).status).toBe(403);
    // mail holds a valid certificate but does not store on this host.
    expect((await put(clients["mail/mail-0"]!, "/backups/mail/mail-0/20261206T030000000Z.tar")).status).toBe(403);
    // Nobody deletes over the network, and a backup client reaches no management route.
    expect((await raw(clients["db/db-0"]!, "DELETE", "/backups/db/db-0/app-20261206T020000000Z.dump")).status).toBe(403);
    expect((await raw(clients["db/db-0"]!, "POST", "/power", { "content-type": "application/json" }, Buffer.from('{"feeds":{"A":false}}'))).status).toBe(403);
    expect(agent.power.snapshot().powered).toBe(true);
    // The operator's management certificate is no backup client either.
    expect((await raw(pki.operator, "GET", "/backups/db")).status).not.toBe(200);
    expect(files(join(storeDir, "files"))).toEqual([]);
    expect(files(join(storeDir, "db", "db-1"))).toEqual([]);
  });

  it("refuses a copy over the size limit, a wrong checksum and a bad name, and keeps nothing of them", async () => {
    const big = Buffer.alloc(LIMIT + 1, 1);
    const small = Buffer.from("hello");
    const db0 = clients["db/db-0"]!;
    expect(
      (await raw(db0, "PUT", "/backups/db/db-0/app-20261206T040000000Z.dump", { "content-length": big.length, [BACKUP_SHA256_HEADER]: sha(big) }, big)).status,
    ).toBe(413);
    expect(
      (
        await raw(
          db0,
          "PUT",
          "/backups/db/db-0/app-20261206T040000001Z.dump",
          { "content-length": small.length, [BACKUP_SHA256_HEADER]: sha(Buffer.from("other")) },
          small,
        )
      ).status,
    ).toBe(400);
    expect(
      (await raw(db0, "PUT", "/backups/db/db-0/no-stamp.dump", { "content-length": small.length, [BACKUP_SHA256_HEADER]: sha(small) }, small)).status,
    ).toBe(400);
    expect((await raw(db0, "PUT", "/backups/db/db-0/..", { "content-length": small.length, [BACKUP_SHA256_HEADER]: sha(small) }, small)).status).toBe(404);
    expect(files(join(storeDir, "db", "db-0")).sort()).toEqual(["app-20261206T020000000Z.dump", "app-20261206T020000000Z.dump.sha256"]);
  });

  it("leaves nothing of an upload cut half-way", async () => {
    const before = await agent.management.registry.getSingleMetric("serverpark_backup_store_refused_total")!.get();
    const refusedBefore = before.values.reduce((n, v) => n + v.value, 0);
    const db0 = clients["db/db-0"]!;
    const req = request({
      method: "PUT",
      hostname: "127.0.0.1",
      port: agent.management.port,
      path: "/backups/db/db-0/app-20261206T050000000Z.dump",
      headers: { "content-length": 4096, [BACKUP_SHA256_HEADER]: "0".repeat(64) },
      cert: readFileSync(db0.cert),
      key: readFileSync(db0.key),
      ca: readFileSync(pki.ca),
    });
    req.on("error", () => undefined);
    req.write(Buffer.alloc(2048, 7), () => req.destroy());
    await vi.waitFor(
      async () => {
        const now = await agent.management.registry.getSingleMetric("serverpark_backup_store_refused_total")!.get();
        expect(now.values.reduce((n, v) => n + v.value, 0)).toBe(refusedBefore + 1);
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(files(join(storeDir, "db", "db-0")).sort()).toEqual(["app-20261206T020000000Z.dump", "app-20261206T020000000Z.dump.sha256"]);
    expect((await shipper("db", "db-0").list()).map((c) => c.name)).toEqual(["app-20261206T020000000Z.dump"]);
  });
});

describe("backup store retention", () => {
  it("deletes a replica's copies older than its service's retention, never the newest, and only that replica's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-store-retention-"));
    let now = new Date("2026-12-01T00:00:00Z");
    const store = new BackupStore({ dir, clients: [{ service: "db", retentionDays: 7 }], maxBytes: LIMIT, log, now: () => now });
    await store.start();
    const put = async (replica: string, name: string) => {
      const data = Buffer.from(name);
      const { Readable } = await import("node:stream");
      await store.put("db", replica, name, Readable.from([data]), data.length, sha(data));
    };
    await put("db-0", "app-20261120T000000000Z.dump");
    await put("db-1", "app-20261120T000000000Z.dump");
    await put("db-0", "app-20261130T000000000Z.dump");
    now = new Date("2026-12-12T00:00:00Z");
    await put("db-0", "app-20261211T000000000Z.dump");
    const left = await store.list("db");
    // db-0: the 20 Nov and 30 Nov copies are past 7 days; db-1's only (newest) copy stays.
    expect(left.map((c) => `${c.replica}/${c.name}`)).toEqual(["db-0/app-20261211T000000000Z.dump", "db-1/app-20261120T000000000Z.dump"]);
  });
});

describe("folder backups (file, mail) shipped to the store", () => {
  it("ships each backup as one archive, lists both copies, and brings a lost backup back whole from the store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-folder-backups-"));
    const data = mkdtempSync(join(tmpdir(), "sp-folder-data-"));
    mkdirSync(join(data, "alice", "docs"), { recursive: true });
    writeFileSync(join(data, "alice", "docs", "report.txt"), "quarterly numbers\n");
    writeFileSync(join(data, "alice", "photo.bin"), randomBytes(20_000));
    const backups = new Backups({ dir, policy: {}, log, write: (target) => copyTreeDurably(data, target) });
    backups.offsite = { shipper: shipper("files", "files-0"), host: "h2" };
    const { name } = await backups.run();
    expect(await backups.list()).toEqual([
      {
        name,
        takenAt: expect.any(String),
        copies: [
          { kind: "volume", host: "h2" },
          { kind: "store", host: "h6", url },
        ],
      },
    ]);
    expect(files(join(storeDir, "files", "files-0")).sort()).toEqual([`${name}.tar`, `${name}.tar.sha256`]);

    // The volume is lost: only the store has it now.
    rmSync(dir, { recursive: true, force: true });
    expect((await backups.list()).map((b) => b.copies)).toEqual([[{ kind: "store", host: "h6", url }]]);
    const restored = await backups.path(name);
    expect(readFileSync(join(restored, "alice", "docs", "report.txt"), "utf8")).toBe("quarterly numbers\n");
    expect(readFileSync(join(restored, "alice", "photo.bin")).equals(readFileSync(join(data, "alice", "photo.bin")))).toBe(true);
    // Nothing of the fetch is left beside it.
    expect(readdirSync(dir)).toEqual([name]);
  });

  it("refuses an archive whose members leave the backup's folder, and unpacks nothing of it", async () => {
    // What a compromised replica of the same service could put in the store under its own name.
    const src = mkdtempSync(join(tmpdir(), "sp-evil-"));
    const name = "20261206T060000000Z";
    mkdirSync(join(src, name));
    writeFileSync(join(src, name, "ok.txt"), "fine");
    writeFileSync(join(src, "escape.txt"), "outside");
    const archive = join(src, `${name}.tar`);
    execFileSync("tar", ["-cf", archive, "-C", src, name, "escape.txt"]);
    await shipper("files", "files-0").ship(archive);

    const dir = mkdtempSync(join(tmpdir(), "sp-folder-victim-"));
    const backups = new Backups({ dir, policy: {}, log, write: async () => 0 });
    backups.offsite = { shipper: shipper("files", "files-0"), host: "h2" };
    await expect(backups.path(name)).rejects.toThrow(/holds escape\.txt, outside 20261206T060000000Z\//);
    expect(readdirSync(dir)).toEqual([]);
  });
});
