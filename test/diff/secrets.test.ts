/**
 * A secret value — old or new — never reaches the comment: not from role settings, not from
 * `secure:` stack config, not from a preview whose states carry an unblinded value (a plain
 * `pulumi preview --diff` can print an old secret), not from a diagnostic or a policy message
 * that quotes one, and not from the CI's own credentials.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { command } from "../../cli/commands/pr-comment";
import { collectSecrets, redact } from "../../components/diff/secrets";
import { FIXTURES } from "./cases";

const OLD = "old-Secr3t-Value-91f2";
const NEW = "new-Secr3t-Value-a7c4";
const CIPHER = "v1:AAAAbmV3LWNpcGhlcnRleHQ=";
const PASSPHRASE = "ci-passphrase-5e1d";
const dir = mkdtempSync(join(tmpdir(), "sp-diff-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the base stack whose db service carries `secret` in its settings. */
function stack(name: string, secret: string): string {
  const doc = parseDocument(readFileSync(join(FIXTURES, "stacks", "Pulumi.base.yaml"), "utf8"));
  doc.setIn(["config", "serverpark:datacenter", "services", 5, "settings"], doc.createNode({ adminPassword: secret, note: "plain" }));
  doc.setIn(["config", "serverpark:dbRootPassword"], doc.createNode({ secure: CIPHER }));
  const path = join(dir, `Pulumi.${name}.yaml`);
  writeFileSync(path, doc.toString());
  writeFileSync(join(dir, `Pulumi.${name}.lock.json`), readFileSync(join(FIXTURES, "stacks", "Pulumi.base.lock.json")));
  return path;
}

function preview(): string {
  const urn = "urn:pulumi:local::serverpark::serverpark:index:Datacenter$serverpark:datacenter:Service$docker:index/container:Container::fra1-svc-db-0";
  const state = (secret: string) => ({
    urn,
    custom: true,
    type: "docker:index/container:Container",
    inputs: {
      envs: [`SP_SERVICE=db`, `DB_PASSWORD=${secret}`],
      uploads: [{ file: "/etc/serverpark/config.json", content: JSON.stringify({ settings: { adminPassword: secret } }) }],
    },
    outputs: { password: secret, blinded: "[secret]" },
  });
  return JSON.stringify({
    config: { "serverpark:dbRootPassword": "[secret]" },
    steps: [
      {
        op: "update",
        urn,
        oldState: state(OLD),
        newState: state(NEW),
        diffReasons: ["envs", "uploads"],
        detailedDiff: { "envs[1]": { kind: "update", inputDiff: true }, "uploads[0].content": { kind: "update", inputDiff: true } },
      },
    ],
    diagnostics: [{ urn, severity: "warning", message: `container env changed: DB_PASSWORD ${OLD} -> ${NEW}` }],
  });
}

describe("secrets never appear in the comment", () => {
  it("scrubs old and new values from every source", async () => {
    const base = stack("sbase", OLD);
    const head = stack("shead", NEW);
    writeFileSync(join(dir, "preview.json"), preview());
    writeFileSync(
      join(dir, "policy.json"),
      JSON.stringify({
        violations: [
          {
            policy: "no-plaintext-secrets",
            controls: ["A.8.24"],
            resource: "fra1-svc-db-0",
            message: `setting adminPassword is "${NEW}" in plain text; the CI passphrase is ${PASSPHRASE}`,
            enforcement: "mandatory",
          },
        ],
      }),
    );
    process.env.PULUMI_CONFIG_PASSPHRASE = PASSPHRASE;
    const out: string[] = [];
    const err: string[] = [];
    const code = await command.run(
      { values: { preview: join(dir, "preview.json"), policy: join(dir, "policy.json"), stack: "local" }, positionals: [base, head] },
      { out: (t) => out.push(t), err: (t) => err.push(t), cwd: dir, interactive: false },
    );
    delete process.env.PULUMI_CONFIG_PASSPHRASE;
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const md = out.join("\n");
    // The comment is about the change: the setting key, the property names, the policy, the diagnostic.
    expect(md).toContain("settings changed: adminPassword (values not shown)");
    expect(md).toContain("`envs[1]`");
    expect(md).toContain("no-plaintext-secrets");
    expect(md).toContain("container env changed: DB_PASSWORD [secret] -&gt; [secret]");
    for (const secret of [OLD, NEW, CIPHER, PASSPHRASE]) expect(md, secret).not.toContain(secret);
  });

  it("collects values under secret-looking names, NAME=value entries and Pulumi secret markers", () => {
    const found = collectSecrets({
      a: { password: "p4ssword-1", nested: [{ apiKey: "key-123456" }] },
      envs: ["HCLOUD_TOKEN=tok-abcdef", "SP_ROLE=web"],
      s: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "marked-secret" },
      c: { secure: "v1:cipher" },
      plain: "not-a-secret",
    });
    expect([...found].sort()).toEqual(["1b47061264138c4ac30d75fd1eb44270", "key-123456", "marked-secret", "p4ssword-1", "tok-abcdef", "v1:cipher"]);
    expect(redact("a p4ssword-1 b key-123456", found)).toBe("a [secret] b [secret]");
  });
});
