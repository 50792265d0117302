/**
 * Quotas that hold: live files, versions and uploads in flight together never pass a user's
 * quota on disk (`tiny`: 100,000 bytes), on both protocols:
 * - parallel uploads (SFTP: four open uploads written at once; FTPS: three throttled curl
 *   uploads at once), with the user's disk use sampled while they run;
 * - "upload, delete, repeat": every round succeeds (the oldest versions make room), and the
 *   disk use stays under the quota after each.
 * Passive ports 47650-47657.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlFtps, haveTools, PASSWORDS, startFtpFiles, type FtpTestServer } from "../file/ftp-support";
import { sftpBatch } from "../file/support";

const enabled = haveTools("curl", "sftp", "sshpass", "openssl");
const QUOTA = 100_000;

/** Bytes of every regular file under `dir` (live files, versions and temporary uploads). */
/**
 * Bytes of the files under `dir`, each file once. The walk is not atomic: a file the server
 * renames while it runs (an upload's temporary file becoming the live one, a live file becoming
 * a version) can be met twice, so files are counted by inode.
 */
function diskUse(dir: string, seen = new Map<number, number>()): number {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) diskUse(path, seen);
    else if (entry.isFile()) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st) seen.set(st.ino, st.size);
    }
  }
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

describe.skipIf(!enabled)("file role: quotas count live files, versions and uploads in flight", () => {
  let server: FtpTestServer;
  const work = mkdtempSync(join(tmpdir(), "sp-hostile-quota-"));
  const tinyDir = () => join(server.dataDir, "users", "tiny");
  /** Samples tiny's disk use every 20 ms while `run` runs; resolves with the largest seen. */
  const peakDiskUse = async (run: Promise<unknown>) => {
    let peak = diskUse(tinyDir());
    const timer = setInterval(() => (peak = Math.max(peak, diskUse(tinyDir()))), 20);
    await run;
    clearInterval(timer);
    return Math.max(peak, diskUse(tinyDir()));
  };

  /** Deletes the earlier tests' files (they become versions, which count too). */
  const deleteAll = async () => {
    const r = await sftpBatch(server.app.sftpPort, "tiny", ["-rm *.bin"]);
    expect(r.code, r.out).toBe(0);
  };

  beforeAll(async () => {
    server = await startFtpFiles({ from: 47650, to: 47657 });
    writeFileSync(join(work, "40k.bin"), randomBytes(40_000));
    writeFileSync(join(work, "45k.bin"), randomBytes(45_000));
  });
  afterAll(async () => {
    await server?.app.close();
  });

  it("SFTP: four uploads written at once cannot hold more than the quota", async () => {
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once("ready", resolve).once("error", reject);
      client.connect({ host: "127.0.0.1", port: server.app.sftpPort, username: "tiny", password: PASSWORDS.tiny });
    });
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));
    const handles = await Promise.all(
      [1, 2, 3, 4].map((i) => new Promise<Buffer>((resolve, reject) => sftp.open(`p${i}.bin`, "w", (e, h) => (e ? reject(e) : resolve(h))))),
    );
    // One SSH packet each (ssh2 splits larger writes): three fit in 100,000 bytes, the fourth cannot.
    const data = randomBytes(30_000);
    const writes = await Promise.all(
      handles.map((h) => new Promise<string>((resolve) => sftp.write(h, data, 0, data.length, 0, (e) => resolve(e ? e.message : "ok")))),
    );
    const inFlight = diskUse(tinyDir());
    const closes = await Promise.all(handles.map((h) => new Promise<string>((resolve) => sftp.close(h, (e) => resolve(e ? e.message : "ok")))));
    client.end();
    console.log(`sftp parallel: writes ${writes.join(", ")}; disk use with all four open: ${inFlight} bytes`);
    expect(writes.filter((w) => w === "ok")).toHaveLength(3);
    expect(writes.filter((w) => w !== "ok").every((w) => /quota/.test(w))).toBe(true);
    expect(inFlight).toBeLessThanOrEqual(QUOTA);
    expect(closes.filter((c) => c === "ok")).toHaveLength(3);
    expect(diskUse(tinyDir())).toBeLessThanOrEqual(QUOTA);
  }, 60_000);

  it("FTPS: three throttled uploads at once never hold more than the quota on disk", async () => {
    await deleteAll();
    const uploads = Promise.all([1, 2, 3].map((i) => curlFtps(server.port, "tiny", `f${i}.bin`, ["-v", "--limit-rate", "15k", "-T", join(work, "45k.bin")])));
    const peak = await peakDiskUse(uploads);
    const results = await uploads;
    console.log(`ftp parallel: exit codes ${results.map((r) => r.code).join(", ")}; peak disk use ${peak} bytes`);
    expect(peak).toBeLessThanOrEqual(QUOTA);
    expect(results.some((r) => r.code === 0)).toBe(true);
    expect(results.some((r) => /^< 552 /m.test(r.out))).toBe(true);
  }, 90_000);

  it("upload, delete, repeat (FTPS and SFTP): every round works and disk use stays under the quota", async () => {
    await deleteAll();
    const rounds: number[] = [];
    for (let i = 0; i < 6; i++) {
      const up = await curlFtps(server.port, "tiny", "loop.bin", ["-T", join(work, "40k.bin")]);
      expect(up.code, up.out).toBe(0);
      const del = await curlFtps(server.port, "tiny", "", ["-Q", "DELE loop.bin"]);
      expect(del.code, del.out).toBe(0);
      const s = await sftpBatch(server.app.sftpPort, "tiny", ["put 40k.bin sloop.bin", "rm sloop.bin"], work);
      expect(s.code, s.out).toBe(0);
      rounds.push(diskUse(tinyDir()));
    }
    console.log(`upload-delete-repeat: disk use after each round ${rounds.join(", ")} bytes`);
    expect(Math.max(...rounds)).toBeLessThanOrEqual(QUOTA);
    const tree = server.app.trees.get("tiny")!;
    expect(tree.used + tree.versionBytes + tree.inflight).toBe(diskUse(tinyDir()));
  }, 120_000);
});
