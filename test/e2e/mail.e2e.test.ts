/**
 * The mail replica on real Docker: mail sent to the published SMTP port is stored and can
 * be read over IMAPS with the generated password (under the mocks the password is derived
 * from the resource name, see test/support/pulumiMocks.ts), relaying is refused.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { curl, swaks } from "../mail/support";
import { mockPassword } from "../support/mockCredentials";
import { describeE2e, e2eDatacenter } from "./facts";

const dc = e2eDatacenter();
const run = promisify(execFile);

describeE2e("mail replica on Docker", () => {
  it("accepts mail on the public SMTP port and serves it over IMAPS; refuses relaying", async () => {
    const mail = dc.replica("mail-0");
    expect(mail.health, mail.name).toBe("healthy");
    const smtp = ["--server", "127.0.0.1", "--port", String(mail.published["25/tcp"])];
    const marker = `e2e-${Date.now()}`;
    const sent = await swaks([...smtp, "--from", "someone@example.org", "--to", `postmaster@${dc.domain}`, "--body", marker]);
    expect(sent.code, sent.out).toBe(0);
    const relay = await swaks([...smtp, "--from", "someone@example.org", "--to", "victim@example.com"]);
    expect(relay.out).toMatch(/554 5\.7\.1/);

    const password = mockPassword(`${dc.datacenter}-svc-mail-user-postmaster`);
    const search = await curl([
      "--insecure",
      "--user",
      `postmaster:${password}`,
      "-X",
      `UID SEARCH BODY ${marker}`,
      `imaps://127.0.0.1:${mail.published["993/tcp"]}/INBOX`,
    ]);
    expect(search.code, search.err).toBe(0);
    const uid = /\* SEARCH (\d+)/.exec(search.out)?.[1];
    expect(uid, search.out).toBeDefined();
    const body = await curl(["--insecure", "--user", `postmaster:${password}`, `imaps://127.0.0.1:${mail.published["993/tcp"]}/INBOX;UID=${uid}`]);
    expect(body.out).toContain(marker);
  }, 60_000);

  it("backs up on demand into a volume of its own that holds the delivered message, and ships the backup to its target host's store", async () => {
    const mail = dc.replica("mail-0");
    const marker = `e2e-backup-${Date.now()}`;
    const sent = await swaks([
      "--server",
      "127.0.0.1",
      "--port",
      String(mail.published["25/tcp"]),
      "--from",
      "a@example.org",
      "--to",
      `postmaster@${dc.domain}`,
      "--body",
      marker,
    ]);
    expect(sent.code, sent.out).toBe(0);

    // The management port wants the operator's client certificate (contracts/management.ts).
    const op = dc.operator!;
    const asOperator = ["--cacert", op.ca, "--cert", op.cert, "--key", op.key];
    const taken = await curl([...asOperator, "-X", "POST", `https://${mail.addresses.mgmt!}:9100/backups`]);
    expect(taken.code, taken.err).toBe(0);
    const backup = JSON.parse(taken.out) as { name: string; files: number };
    expect(backup.files).toBeGreaterThanOrEqual(2);
    const listed = JSON.parse((await curl([...asOperator, `https://${mail.addresses.mgmt!}:9100/backups`])).out) as {
      next: string | null;
      backups: { name: string; copies?: { kind: string; host: string }[] }[];
    };
    expect(listed.backups.map((b) => b.name)).toContain(backup.name);
    expect(listed.next, "the stack's schedule is running").not.toBeNull();

    // The mount is the backup volume, not the data volume, kept by the replica's own host; the
    // copy that leaves the host is in the store of the backup's target host (h7) — as listed.
    const { stdout: mounts } = await run("docker", ["inspect", "-f", "{{range .Mounts}}{{.Name}}={{.Destination}} {{end}}", mail.name]);
    const volume = /(\S+)=\/var\/lib\/serverpark\/backup/.exec(mounts)?.[1];
    expect(volume, mounts).toBe(`${dc.datacenter}-mail-0-backup`);
    const { stdout: host } = await run("docker", ["volume", "inspect", "-f", '{{index .Labels "serverpark.host"}}', volume!]);
    expect(host.trim()).toBe(mail.host);
    expect(listed.backups.find((b) => b.name === backup.name)?.copies).toEqual(
      expect.arrayContaining([{ kind: "volume", host: mail.host }, expect.objectContaining({ kind: "store", host: "h7" })]),
    );
    const { stdout: stored } = await run("docker", ["exec", dc.host("h7").name, "ls", `/var/lib/serverpark/backup-store/mail/mail-0`]);
    expect(stored.split("\n")).toContain(`${backup.name}.tar`);
    const { stdout: found } = await run("docker", [
      "exec",
      mail.name,
      "grep",
      "-rl",
      marker,
      `/var/lib/serverpark/backup/${backup.name}/mailboxes/postmaster/msg`,
    ]);
    expect(found.trim()).not.toBe("");
  }, 60_000);
});
