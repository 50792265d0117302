/**
 * db's backups off the host (contracts/backups.ts) with a real PostgreSQL and a real backup
 * store (the host agent's, over mutual TLS): a dump is shipped as it is written, the list says
 * where each copy lives, and once the local dump is gone a restore fetches it from the store
 * and psql reads the data back.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbSettingsSchema } from "../../contracts/settings/db";
import { Backups } from "../../images/db/src/backup";
import type { HostAgent } from "../../images/host-agent/src/agent";
import { BackupShipper } from "../../images/runtime/backupShip";
import { createLogger } from "../../images/runtime/log";
import { backupClient, startBackupStore } from "../support/backupStore";
import { makeManagementPki } from "../support/managementPki";
import { havePostgres, psql, runningTestDb } from "./support";

const PORT = 47302;
const enabled = havePostgres();

describe.skipIf(!enabled)("db backups shipped to the target host's store", () => {
  const db = runningTestDb(PORT);
  let agent: HostAgent | undefined;
  let shipper: BackupShipper;

  beforeAll(async () => {
    const pki = makeManagementPki(["127.0.0.1"]);
    const client = backupClient(pki, "db", "db-0");
    const store = await startBackupStore(pki, createLogger({ role: "host-agent", level: "silent" }), {
      clients: [{ service: "db", retentionDays: 30 }],
      storeDir: mkdtempSync(join(tmpdir(), "sp-db-store-")),
    });
    agent = store.agent;
    shipper = new BackupShipper({
      url: store.url,
      host: "h6",
      service: "db",
      replica: "db-0",
      tls: { cert: client.cert, key: client.key, ca: pki.ca },
      log: createLogger({ role: "db", level: "silent" }),
    });
  }, 60_000);
  afterAll(async () => {
    await agent?.management.close();
  });

  it("ships each dump, lists both copies, and restores from the store once the local dump is gone", async () => {
    const app = db.app();
    const dir = mkdtempSync(join(tmpdir(), "sp-db-offsite-"));
    const settings = dbSettingsSchema.parse({ backup: { intervalMinutes: 0, keep: 10 } });
    const backups = new Backups(app.postgres, dir, settings, createLogger({ role: "db", level: "silent" }));
    backups.offsite = { shipper, host: "h1" };
    await psql(PORT, "CREATE TABLE shipped (token text); INSERT INTO shipped VALUES ('off-the-host')");
    const [dump] = await backups.dumpAll();
    const url = `https://127.0.0.1:${agent!.management.port}`;
    expect((await backups.list()).find((b) => b.file === dump!.file)?.copies).toEqual([
      { kind: "volume", host: "h1" },
      { kind: "store", host: "h6", url },
    ]);
    expect((await shipper.list()).map((c) => c.name)).toEqual([dump!.file]);

    // The backup volume is lost: only the store holds the dump.
    rmSync(join(dir, dump!.file));
    expect((await backups.list()).find((b) => b.file === dump!.file)?.copies).toEqual([{ kind: "store", host: "h6", url }]);
    await psql(PORT, "DROP TABLE shipped");
    await backups.restore(dump!.file);
    expect(await psql(PORT, "SELECT token FROM shipped")).toBe("off-the-host");
  }, 120_000);
});
