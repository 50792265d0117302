/**
 * Backups that leave the host (issue #17, contracts/backups.ts) on the real Docker engine: a
 * stateful replica ships its backup to the store of its backup target's agent; then its
 * container AND its data and backup volumes are removed, it is rebuilt exactly as deployed,
 * and the latest backup is restored from the target host — file checked with OpenSSH's
 * `sftp`, mail with `curl imaps://`.
 * The db is a highly available group (a primary and a streaming standby): a lost data node
 * rejoins as a standby by copying the primary, so losing one loses no data. What replication
 * cannot undo is a logical loss (a dropped table is dropped on the standby too), so its drill
 * is: a row on the primary, a dump shipped to the target host's store, the primary's
 * container and both its volumes lost (the standby is promoted, the rebuilt node rejoins as
 * the standby), the table dropped on the new primary, and the dump — shipped by the other
 * data node, its copy on the new primary's volume never existed — restored on the new
 * primary from the store, the row read back with the real `psql` from both data nodes.
 * Each drill leaves a `restore` evidence record (in $SP_EVIDENCE_DIR when set) that
 * `serverpark compliance --evidence` counts for A.8.13.
 */
import "tsx/cjs";
import { execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { stringify } from "yaml";
import { readEvidenceDir, stackFileHash, writeEvidence } from "../../components/compliance/evidence";
import { sftpRun } from "../file/support";
import { curl, haveTools, swaks } from "../mail/support";
import { captureIo } from "../support/cliIo";
import { mockPassword } from "../support/mockCredentials";
import { e2eConfig } from "./globalSetup";
import { DockerApplier, type RecordedResource } from "../../lab/applier";
import { BACKUP_STORE_PATH } from "../../contracts/backups";
import { monitorView, primaryOf, psql, waitFor } from "../support/haLab";
import { e2eDbGroup, operator as managementCall, waitSettled } from "./dbGroup";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();
const { main } = createRequire(join(process.cwd(), "test/e2e/backup-restore.e2e.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");

function hasPsql(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v psql"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
if (!hasPsql()) {
  if (process.env.CI === "true") throw new Error("psql is missing (npm run setup installs postgresql-client) — required when CI=true");
  console.warn("backup-restore e2e skipped: psql is missing (npm run setup installs postgresql-client)");
}

const operator = (method: string, address: string, path: string, body?: unknown) => managementCall(dc, method, address, path, body);

const exec = async (container: string, ...cmd: string[]) => (await run("docker", ["exec", container, ...cmd], { timeout: 60_000 })).stdout;

/** Rebuilds a container and its volumes exactly as the datacenter deployed them (the recorded resources). */
async function rebuild(containerName: string, volumeNames: readonly string[]): Promise<void> {
  const recorded = JSON.parse(readFileSync(dc.recorded!.file, "utf8")) as RecordedResource[];
  const subset = recorded.filter(
    (r) =>
      (r.type === "docker:index/container:Container" && r.inputs.name === containerName) ||
      (r.type === "docker:index/volume:Volume" && volumeNames.includes(String(r.inputs.name))),
  );
  expect(subset.map((r) => String(r.inputs.name)).sort()).toEqual([containerName, ...volumeNames].sort());
  const applier = new DockerApplier({ labels: dc.recorded!.labels });
  await applier.apply(subset);
  await applier.waitHealthy(containerName, 150_000);
}

async function volumeExists(name: string): Promise<boolean> {
  return run("docker", ["volume", "inspect", name]).then(
    () => true,
    () => false,
  );
}

/** Removes a replica's container and its data and backup volumes (checked gone), then rebuilds them as deployed. */
async function loseAndRebuild(replica: string): Promise<void> {
  const c = dc.replica(replica);
  const volumes = [`${dc.datacenter}-${replica}-data`, `${dc.datacenter}-${replica}-backup`];
  for (const v of volumes) expect(await volumeExists(v), v).toBe(true);
  await run("docker", ["rm", "-f", "-v", c.name]);
  await run("docker", ["volume", "rm", ...volumes]);
  for (const v of volumes) expect(await volumeExists(v), v).toBe(false);
  await rebuild(c.name, volumes);
}

/**
 * Writes the drill's evidence (components/compliance/evidence.ts) for the e2e stack file, and
 * checks `serverpark compliance --evidence` counts it for A.8.13.
 */
async function recordDrill(service: string, details: Record<string, unknown>, what = "container and data and backup volumes removed, rebuilt"): Promise<void> {
  const dir = process.env.SP_EVIDENCE_DIR ?? mkdtempSync(join(tmpdir(), "sp-restore-evidence-"));
  const stackFile = join(mkdtempSync(join(tmpdir(), "sp-restore-stack-")), `Pulumi.${dc.datacenter}.yaml`);
  writeFileSync(stackFile, stringify({ config: e2eConfig() }));
  const date = new Date().toISOString();
  const path = writeEvidence(dir, {
    format: "serverpark-evidence/v1",
    kind: "restore",
    date,
    stack: dc.datacenter,
    stackHash: stackFileHash(stackFile),
    result: "pass",
    controls: ["A.8.13"],
    summary: `${service}: ${what}, latest backup restored from ${String(details.store)} and read back`,
    details,
  });
  expect(readEvidenceDir(dir).map((f) => join(dir, f.file))).toContain(path);
  const io = captureIo();
  await main(["compliance", stackFile, "--json", "--evidence", dir], io);
  const report = JSON.parse(io.stdout) as { controls: { id: string; evidence: { kind: string; result: string; date: string }[] }[] };
  expect(report.controls.find((c) => c.id === "A.8.13")?.evidence).toContainEqual(expect.objectContaining({ kind: "restore", result: "pass", date }));
}

describeE2e("backups that leave the host", () => {
  it.runIf(hasPsql())(
    "db: the primary ships its dump to the target's store; after losing the primary's container and both volumes and then a table (dropped on both data nodes), the new primary restores it from there (psql reads the row back on both)",
    async () => {
      const group = await e2eDbGroup(dc);
      await waitSettled(group);
      const primary = (await primaryOf(group))!;
      expect(primary, "psql with the documented string landed on a data node").toBeDefined();
      const standby = group.nodes.find((n) => n !== primary)!;
      const [lost, survivor] = [group.container(primary), group.container(standby)];
      const target = dc.plan.services.find((s: { id: string }) => s.id === lost.service).backup.targetHost as string;
      expect(target, `${lost.replica}'s dumps must leave its host`).not.toBe(lost.host);
      const store = dc.host(target);
      const select = "SELECT token FROM restore_check";

      const token = `restored-${Date.now().toString(36)}`;
      await psql(group.uri, "DROP TABLE IF EXISTS restore_check");
      await psql(group.uri, `CREATE TABLE restore_check (token text PRIMARY KEY); INSERT INTO restore_check VALUES ('${token}')`);

      // A dump on the primary; GET /backups says where each copy lives: its volume on its host, and the target's store.
      const taken = await operator("POST", lost.addresses.mgmt!, "/backups");
      expect(taken.status, JSON.stringify(taken.json)).toBe(201);
      const file = (taken.json as { file: string; database: string }[]).find((b) => b.database === "app")!.file;
      const listed = await operator("GET", lost.addresses.mgmt!, "/backups");
      const entry = (listed.json as { file: string; copies: { kind: string; host: string }[] }[]).find((b) => b.file === file)!;
      expect(entry.copies).toEqual(expect.arrayContaining([{ kind: "volume", host: lost.host }, expect.objectContaining({ kind: "store", host: target })]));
      // The store on the target host holds the same bytes.
      const local = (await exec(lost.name, "sha256sum", `/var/lib/serverpark/backup/${file}`)).split(" ")[0];
      const shipped = (await exec(store.name, "sha256sum", `${BACKUP_STORE_PATH}/${lost.service}/${lost.replica}/${file}`)).split(" ")[0];
      expect(shipped).toBe(local);

      // Lose the primary: its container, its data volume and its backup volume. The standby is promoted;
      // the node rebuilt as deployed copies the new primary and rejoins as the standby.
      await loseAndRebuild(lost.replica!);
      await waitFor(
        `${standby.name} primary, the rebuilt ${primary.name} its secondary`,
        async () => {
          const v = await monitorView(group);
          return v[standby.name] === "primary" && v[primary.name] === "secondary" ? v : undefined;
        },
        300_000,
      );
      expect((await primaryOf(group))?.name).toBe(standby.name);
      // Replication kept the row: losing a node lost nothing, on either node.
      for (const n of group.nodes) expect(await psql(group.memberUri(n), select), n.name).toBe(token);

      // The loss replication cannot undo: the table dropped on the primary is gone on the standby too.
      await psql(group.uri, "DROP TABLE restore_check");
      for (const n of group.nodes) await expect(psql(group.memberUri(n), select), n.name).rejects.toThrow(/restore_check/);

      // The new primary never held the dump: its list names the copy the lost node shipped to the store.
      const after = await operator("GET", survivor.addresses.mgmt!, "/backups");
      const remote = (after.json as { file: string; copies: { kind: string; host: string; replica?: string }[] }[]).find((b) => b.file === file);
      expect(remote?.copies, `${survivor.name}'s GET /backups: ${JSON.stringify(after.json)}`).toEqual([
        expect.objectContaining({ kind: "store", host: target, replica: lost.replica }),
      ]);
      const restored = await operator("POST", survivor.addresses.mgmt!, "/restore", { file });
      expect(restored.status, JSON.stringify(restored.json)).toBe(200);
      // Read back on the primary, and on the standby by replication.
      expect(await psql(group.uri, select)).toBe(token);
      for (const n of group.nodes)
        await waitFor(`the restored row on ${n.name}`, async () => ((await psql(group.memberUri(n), select)) === token ? true : undefined), 60_000);
      await recordDrill(
        "db",
        { replica: survivor.replica, lost: lost.replica, backup: file, store: target, checkedWith: "psql" },
        `primary ${String(lost.replica)}'s container and data and backup volumes removed, rebuilt as the standby, a table dropped on the new primary ${String(survivor.replica)}`,
      );
    },
    900_000,
  );

  it.runIf(haveTools("sftp", "sshpass", "curl"))(
    "file: ships its backup to h2's store, and after losing its container and both volumes restores it from there (sftp reads the file back)",
    async () => {
      const files = dc.replica("files-0");
      expect(files.health, files.name).toBe("healthy");
      const target = dc.plan.services.find((s: { id: string }) => s.id === files.service).backup.targetHost as string;
      expect(target).not.toBe(files.host);
      const mgmt = files.addresses.mgmt!;
      const sftp = { host: files.addresses.private!, port: 22, user: "files", password: mockPassword(`${dc.datacenter}-svc-files-user-files`) };

      const local = mkdtempSync(join(tmpdir(), "sp-e2e-restore-files-"));
      const name = `restore-${Date.now()}.bin`;
      const content = randomBytes(200_000);
      writeFileSync(join(local, name), content);
      const put = await sftpRun(sftp, ["-mkdir restore", `put ${join(local, name)} restore/${name}`]);
      expect(put.code, put.out).toBe(0);

      const taken = await operator("POST", mgmt, "/backups");
      expect(taken.status, JSON.stringify(taken.json)).toBe(201);
      const backup = (taken.json as { name: string }).name;
      const listed = await operator("GET", mgmt, "/backups");
      expect((listed.json as { name: string; copies: unknown[] }[]).find((b) => b.name === backup)?.copies).toEqual(
        expect.arrayContaining([{ kind: "volume", host: files.host }, expect.objectContaining({ kind: "store", host: target })]),
      );

      await loseAndRebuild(files.replica!);
      const gone = await sftpRun(sftp, [`ls restore/${name}`]);
      expect(gone.code, "the rebuilt replica starts empty").not.toBe(0);

      const restored = await operator("POST", mgmt, "/backups/restore", { name: backup });
      expect(restored.status, JSON.stringify(restored.json)).toBe(200);
      const back = join(local, "back.bin");
      const get = await sftpRun(sftp, [`get restore/${name} ${back}`]);
      expect(get.code, get.out).toBe(0);
      const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
      expect(sha(readFileSync(back))).toBe(sha(content));
      await recordDrill("files", { replica: files.replica, backup, store: target, checkedWith: "sftp" });
    },
    600_000,
  );

  it.runIf(haveTools("swaks", "curl"))(
    "mail: ships its backup to h7's store, and after losing its container and both volumes restores it from there (curl imaps:// reads the message back)",
    async () => {
      const mail = dc.replica("mail-0");
      expect(mail.health, mail.name).toBe("healthy");
      const target = dc.plan.services.find((s: { id: string }) => s.id === mail.service).backup.targetHost as string;
      expect(target).not.toBe(mail.host);
      const mgmt = mail.addresses.mgmt!;
      const marker = `restore-mail-${Date.now()}`;
      const smtp = ["--server", "127.0.0.1", "--port", String(mail.published["25/tcp"]), "--from", "a@example.org"];
      const sent = await swaks([...smtp, "--to", `postmaster@${dc.domain}`, "--body", marker]);
      expect(sent.code, sent.out).toBe(0);
      // IMAPS by the certificate's name, verified with the datacenter CA.
      const port = mail.published["993/tcp"]!;
      const name = `imap.${dc.domain}`;
      const imap = (...args: string[]) =>
        curl([
          "--cacert",
          dc.operator!.ca,
          "--resolve",
          `${name}:${port}:127.0.0.1`,
          "--user",
          `postmaster:${mockPassword(`${dc.datacenter}-svc-mail-user-postmaster`)}`,
          ...args,
        ]);
      const search = () => imap("-X", `UID SEARCH BODY ${marker}`, `imaps://${name}:${port}/INBOX`);

      const taken = await operator("POST", mgmt, "/backups");
      expect(taken.status, JSON.stringify(taken.json)).toBe(201);
      const backup = (taken.json as { name: string }).name;
      const listed = await operator("GET", mgmt, "/backups");
      expect((listed.json as { backups: { name: string; copies: unknown[] }[] }).backups.find((b) => b.name === backup)?.copies).toEqual(
        expect.arrayContaining([{ kind: "volume", host: mail.host }, expect.objectContaining({ kind: "store", host: target })]),
      );

      await loseAndRebuild(mail.replica!);
      const gone = await search();
      expect(gone.code, gone.err).toBe(0);
      expect(gone.out.trim(), "the rebuilt replica starts empty").toBe("* SEARCH");

      const restored = await operator("POST", mgmt, "/backups/restore", { name: backup });
      expect(restored.status, JSON.stringify(restored.json)).toBe(200);
      expect((restored.json as { restored: number }).restored).toBeGreaterThanOrEqual(1);
      const found = await search();
      const uid = /\* SEARCH (\d+)/.exec(found.out)?.[1];
      expect(uid, `${found.out}${found.err}`).toBeDefined();
      const body = await imap(`imaps://${name}:${port}/INBOX;UID=${uid}`);
      expect(body.code, body.err).toBe(0);
      expect(body.out).toContain(marker);
      await recordDrill("mail", { replica: mail.replica, backup, store: target, checkedWith: "curl imaps" });
    },
    600_000,
  );
});
