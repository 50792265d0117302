/**
 * The real program on the local stack with two hosting customers, under Pulumi mocks: the
 * file replica receives the customers' accounts in its view (quota, public keys) and, as a
 * secret, scrypt hashes of generated passwords for the accounts that log in with one.
 */
import { X509Certificate } from "node:crypto";
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

describe("customer sites under mocks", () => {
  const container = (name: string) => run.byType("docker:index/container:Container").find((c) => c.inputs.name === name)!;
  const uploadsOf = (name: string) => container(name).inputs.uploads as { file: string; content?: string; source?: string }[];
  const viewOf = (name: string) => JSON.parse(readFileSync(uploadsOf(name).find((u) => u.file.endsWith("/view.json"))!.source!, "utf8")) as Record<string, any>;

  it("shares one sites volume: the file replica writes it, every web replica reads it", () => {
    const volumes = run.byType("docker:index/volume:Volume").filter((v) => v.inputs.name === "fra1-files-sites");
    expect(volumes).toHaveLength(1);
    expect(container("fra1-files-0").inputs.volumes).toContainEqual({ volumeName: "fra1-files-sites", containerPath: "/srv/sites", readOnly: false });
    for (const web of ["fra1-www-0", "fra1-www-1"]) {
      expect(container(web).inputs.volumes).toEqual([{ volumeName: "fra1-files-sites", containerPath: "/srv/sites", readOnly: true }]);
      expect(viewOf(web).customerSites).toEqual([
        { customer: "acme", account: "acme", names: ["acme.test", "www.acme.test"] },
        { customer: "globex", account: "globex", names: ["globex.test", "www.globex.test"] },
      ]);
    }
  });

  it("routes the customers' names through the proxy to the web replicas, uncached, with the names on its certificate", () => {
    const routes = viewOf("fra1-edge-0").routes as { hosts: string[]; cache: boolean; upstreams: { port: number }[] }[];
    const route = routes.find((r) => r.hosts.includes("acme.test"))!;
    expect(route.hosts).toEqual(["acme.test", "www.acme.test", "globex.test", "www.globex.test"]);
    expect(route.cache).toBe(false);
    expect(route.upstreams.map((u) => u.port)).toEqual([8080, 8080]);
    const cert = new X509Certificate(uploadsOf("fra1-edge-0").find((u) => u.file === "/etc/serverpark/tls/tls.crt")!.content!);
    for (const name of ["acme.test", "www.acme.test", "globex.test", "www.globex.test"]) expect(cert.subjectAltName).toContain(`DNS:${name}`);
  });
});
