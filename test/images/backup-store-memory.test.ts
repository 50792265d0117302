/**
 * The host agent runs under a 128 MB memory cap (components/model/launch.ts), yet stores copies of
 * gigabytes: a 512 MiB copy goes through the real agent code in a process of its own
 * (test/support/backupStoreProcess.ts) over mutual TLS, generated and hashed on the fly on this
 * side, and that process's peak resident memory (VmHWM) must grow by a bounded amount — far less
 * than the copy — on the way in and on the way out. A bound, not a timing.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupClient } from "../support/backupStore";
import { generatedSha256, getHashed, putGenerated, startStoreChild, type StoreChild } from "../support/backupStoreChild";
import { makeManagementPki, type ManagementPki } from "../support/managementPki";

const MiB = 1024 * 1024;
const SIZE = 512 * MiB;
/**
 * What streaming may add to the agent's resident memory: buffers read and written wait for V8's
 * garbage collector, which frees them in ~64 MiB steps (its external-memory trigger); a copy
 * held in memory would add 512 MiB.
 */
const GROWTH_BOUND = 96 * MiB;

let pki: ManagementPki;
let store: StoreChild;
let storeDir: string;

beforeAll(async () => {
  pki = makeManagementPki(["127.0.0.1"]);
  storeDir = mkdtempSync(join(tmpdir(), "sp-store-memory-"));
  store = await startStoreChild(pki, { clients: [{ service: "db", retentionDays: 14 }], storeDir });
});

afterAll(async () => {
  await store?.stop();
  if (storeDir) rmSync(storeDir, { recursive: true, force: true });
});

describe("backup store memory", () => {
  it("stores and gives back a 512 MiB copy with the agent's peak memory bounded far below the copy", { timeout: 600_000 }, async () => {
    const pair = backupClient(pki, "db", "db-0");
    const path = "/backups/db/db-0/app-20261206T020000000Z.dump";
    const sha256 = await generatedSha256(SIZE);
    const idle = store.rss();

    const put = await putGenerated(store.port, pair, pki.ca, path, SIZE, sha256);
    expect(put.status, put.text).toBe(201);
    const afterUpload = store.peakRss();
    expect(afterUpload - idle, `peak ${afterUpload / MiB} MiB after the upload, ${idle / MiB} MiB before`).toBeLessThan(GROWTH_BOUND);

    const got = await getHashed(store.port, pair, pki.ca, path);
    expect(got).toEqual({ status: 200, bytes: SIZE, sha256 });
    const afterDownload = store.peakRss();
    expect(afterDownload - idle, `peak ${afterDownload / MiB} MiB after the download, ${idle / MiB} MiB before`).toBeLessThan(GROWTH_BOUND);

    // A client that goes away mid-download costs the agent nothing it keeps: it lives and serves.
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { method: "GET", hostname: "127.0.0.1", port: store.port, path, cert: readFileSync(pair.cert), key: readFileSync(pair.key), ca: readFileSync(pki.ca) },
        (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" ? resolve() : reject(error)));
      req.end();
    });
    expect(await getHashed(store.port, pair, pki.ca, path)).toEqual({ status: 200, bytes: SIZE, sha256 });
    expect(store.child.exitCode).toBeNull();
  });
});
