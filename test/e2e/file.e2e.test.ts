/**
 * The file replica on real Docker (issue #4): a file uploaded over SFTP appears in the next
 * backup. The test reaches the files service the way an operator on the datacenter's networks
 * would (its published ports are for the hosting customers, customers.e2e.test.ts): OpenSSH's `sftp`
 * (password via sshpass) from this host to the container's address on the private bridge,
 * and curl to the role's management API on the management bridge to take a backup now.
 * The backup is then copied out of the container with `docker cp` and compared byte for byte.
 * The password is the mock's RandomPassword for `<datacenter>-svc-files-user-files` (see
 * test/support/pulumiMocks.ts), as in mail.e2e.test.ts.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { sftpRun } from "../file/support";
import { haveTools } from "../mail/support";
import { mockPassword } from "../support/mockCredentials";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();

/** curl, resolving with the body; rejects on HTTP errors (--fail-with-body). */
async function curl(...args: string[]): Promise<string> {
  return (await run("curl", ["-sS", "--fail-with-body", "--max-time", "60", ...args], { timeout: 70_000 })).stdout;
}

describeE2e("file replica on Docker", () => {
  it("a file uploaded over SFTP appears, byte for byte, in the next backup", async () => {
    if (!haveTools("sftp", "sshpass", "curl")) return;
    const files = dc.replica("files-0");
    expect(files.health, files.name).toBe("healthy");
    // The local stack's hosting customers reach SFTP and FTPS from the internet side (customers.e2e.test.ts).
    // The passive ports on host ports of this stack's own, listened on under the same numbers inside (PASV names them).
    const passive = Object.entries(files.published).filter(([port]) => port !== "21/tcp" && port !== "22/tcp");
    expect(Object.keys(files.published), "the files service publishes SFTP, FTP and the passive ports").toEqual(expect.arrayContaining(["21/tcp", "22/tcp"]));
    expect(passive.map(([port, host]) => `${port}→${host - passive[0]![1]}`)).toEqual(Array.from({ length: 10 }, (_, i) => `${passive[0]![1] + i}/tcp→${i}`));
    const address = files.addresses.private!;
    const mgmt = files.addresses.mgmt!;
    expect(address, "files-0 has an address on the private network").toBeTruthy();
    const password = mockPassword(`${dc.datacenter}-svc-files-user-files`);

    // Something no earlier run could have left: random bytes under a unique name.
    const local = mkdtempSync(join(tmpdir(), "sp-e2e-files-"));
    const name = `upload-${Date.now()}.bin`;
    const content = randomBytes(300_000);
    writeFileSync(join(local, name), content);
    const wrong = await sftpRun({ host: address, port: 22, user: "files", password: `${password}x` }, ["ls"]);
    expect(wrong.code, "a wrong password is refused").not.toBe(0);
    const put = await sftpRun({ host: address, port: 22, user: "files", password }, [
      "-mkdir e2e",
      `put ${join(local, name)} e2e/${name}`,
      `ls -l e2e/${name}`,
    ]);
    expect(put.code, put.out).toBe(0);
    expect(put.out).toMatch(new RegExp(`300000 .*${name.replace(".", "\\.")}`));

    // The management port wants the operator's client certificate (contracts/management.ts).
    const op = dc.operator!;
    const asOperator = ["--cacert", op.ca, "--cert", op.cert, "--key", op.key];
    const before = JSON.parse(await curl(...asOperator, `https://${mgmt}:9100/backups`)) as { name: string }[];
    const backup = JSON.parse(await curl(...asOperator, "-X", "POST", `https://${mgmt}:9100/backups`)) as { name: string; files: number };
    expect(backup.files).toBeGreaterThanOrEqual(1);
    expect(
      before.map((b) => b.name),
      "the backup is a new one",
    ).not.toContain(backup.name);
    const listed = JSON.parse(await curl(...asOperator, `https://${mgmt}:9100/backups`)) as { name: string; users: string[] }[];
    expect(listed.find((b) => b.name === backup.name)?.users).toContain("files");

    // Read it back from the backup folder on its volume, outside the server: where the
    // deployment points it (the backup volume), else the image's default.
    const env = (await run("docker", ["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", files.name], { timeout: 30_000 })).stdout;
    // Same precedence as images/file/src/main.ts: SP_BACKUP_DIR, then SP_FILE_BACKUP_DIR.
    const backupDir = /^SP_BACKUP_DIR=(.+)$/m.exec(env)?.[1] ?? /^SP_FILE_BACKUP_DIR=(.+)$/m.exec(env)?.[1] ?? "/var/lib/serverpark/files/backups";
    const copy = join(local, "from-backup.bin");
    await run("docker", ["cp", `${files.name}:${backupDir}/${backup.name}/files/e2e/${name}`, copy], { timeout: 60_000 });
    const restored = readFileSync(copy);
    expect(restored.length).toBe(content.length);
    expect(createHash("sha256").update(restored).digest("hex")).toBe(createHash("sha256").update(content).digest("hex"));
  }, 180_000);
});
