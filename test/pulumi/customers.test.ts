/**
 * The real program on the local stack with two hosting customers, under Pulumi mocks: the
 * file replica receives the customers' accounts in its view (quota, public keys) and, as a
 * secret, scrypt hashes of generated passwords for the accounts that log in with one.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/spec/load";
import { isSecretValue, runUnderMocks, type MockRun } from "../support/pulumiMocks";
import { KEY, withCustomers } from "../support/customers";

let run: MockRun<typeof import("../../stacks/index.js")>;

beforeAll(async () => {
  const spec = withCustomers();
  spec.customers[1].fileAccounts.push({ name: "globex-keys", password: false, sshKeys: [KEY] });
  run = await runUnderMocks(() => import("../../stacks/index.js"), {
    stack: "local",
    config: { ...loadStackFile("local").config, "serverpark:datacenter": spec },
  });
});

describe("customers under mocks", () => {
  it("gives the file replica the customers' accounts and password hashes for the password accounts only", () => {
    const files = run.byType("docker:index/container:Container").find((c) => c.inputs.name === "fra1-files-0")!;
    expect(files).toBeDefined();
    const uploads = files.inputs.uploads as { file: string; content?: string; source?: string }[];
    const credentials = JSON.parse(uploads.find((u) => u.file === "/etc/serverpark/secrets/file-users.json")!.content!) as { users: Record<string, string> };
    expect(Object.keys(credentials.users).sort()).toEqual(["acme", "files", "globex"]);
    for (const hash of Object.values(credentials.users)) expect(hash).toMatch(/^scrypt\$/);
    expect(isSecretValue(files.rawInputs.uploads)).toBe(true);
    const view = uploads.find((u) => u.file.endsWith("/view.json"))!;
    const accounts = (JSON.parse(readFileSync(view.source!, "utf8")) as { accounts: unknown[] }).accounts;
    expect(accounts).toEqual([
      { name: "acme", customer: "acme", quotaBytes: 100 * 1024 * 1024, sshKeys: [KEY] },
      { name: "globex", customer: "globex", quotaBytes: 50 * 1024 * 1024, sshKeys: [] },
      { name: "globex-keys", customer: "globex", quotaBytes: 50 * 1024 * 1024, sshKeys: [KEY] },
    ]);
  });
});
