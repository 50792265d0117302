/**
 * The NOC's FTP probe against the REAL file role (images/file: SFTP and FTP with explicit
 * TLS on the same trees), started in-process with a certificate from a throwaway CA, as the
 * datacenter would give it: the probe greets, gets AUTH TLS, verifies the certificate for
 * files.<domain> and says QUIT over TLS. The stand-in in standins.ts covers the failures.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startFileApp, type FileApp } from "../../images/file/src/app";
import { fileSettingsSchema } from "../../contracts/settings/file";
import { hashPassword } from "../../contracts/credentials/scrypt";
import { nocSettingsSchema } from "../../contracts/settings/noc";
import { Monitor } from "../../images/noc/src/monitor";
import { createLogger } from "../../images/runtime/log";
import { createReloadingTls } from "../../images/runtime/tls";
import { makeCertificates } from "./standins";

const pki = makeCertificates(["files.fra1.park.test"]);
let app: FileApp;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "noc-real-ftp-"));
  writeFileSync(join(dir, "tls.crt"), pki.cert);
  writeFileSync(join(dir, "tls.key"), pki.key);
  const log = createLogger({ role: "file", level: "silent" });
  app = await startFileApp({
    dataDir: join(dir, "data"),
    backupDir: join(dir, "backups"),
    settings: fileSettingsSchema.parse({ users: [{ name: "alice" }], backup: { intervalMinutes: 0, keep: 1 } }),
    credentials: { alice: hashPassword("alice-password-1") },
    host: "127.0.0.1",
    sftpPort: 0,
    ftpPort: 0,
    ftpPassivePorts: { from: 47371, to: 47372 },
    tls: await createReloadingTls({ certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") }, log),
    log,
  });
}, 60_000);
afterAll(async () => {
  await app?.close();
});

async function probe(port: { name: string; port: number }, ca: Buffer) {
  const monitor = new Monitor({
    targets: [{ service: "files", role: "file", replica: "files-0", host: "h1", port: { ...port, protocol: "tcp" }, address: "127.0.0.1" }],
    settings: nocSettingsSchema.parse({ timeoutMs: 5000 }),
    domain: "fra1.park.test",
    log: createLogger({ role: "noc", level: "silent" }),
    ca,
  });
  await monitor.runRound();
  return monitor.status().probes[0]!;
}

it("finds FTP with AUTH TLS on the real file server, its certificate verified for files.<domain>", async () => {
  const r = await probe({ name: "ftp", port: app.ftp!.port }, pki.ca);
  expect(r).toMatchObject({ state: "up", kind: "ftp-auth-tls" });
  expect(r.detail).toMatch(/^220, AUTH TLS 234, TLSv1\.[23] verified as files\.fra1\.park\.test, QUIT 221/);
});

it("and SSH on its SFTP port", async () => {
  const r = await probe({ name: "sftp", port: app.sftpPort }, pki.ca);
  expect(r).toMatchObject({ state: "up", kind: "ssh-handshake" });
});

it("counts the real server down when the CA did not sign its certificate", async () => {
  const r = await probe({ name: "ftp", port: app.ftp!.port }, makeCertificates().ca);
  expect(r).toMatchObject({ state: "down", reason: "tls" });
});
