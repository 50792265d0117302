/**
 * `serverpark policy` and `serverpark compliance`: in-process on the local stack (output, JSON
 * shape, files written), and the real binary on a broken copy of it (exit code 1).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { captureIo } from "../support/cliIo";
import { EXIT, UsageError, type CliCommand } from "../../cli/command";
import { command as compliance } from "../../cli/commands/compliance";
import { command as policy } from "../../cli/commands/policy";
import { fixtureStack, loadFixture } from "./stacks";

const ROOT = join(__dirname, "..", "..");

const io = () => captureIo(ROOT);

const run = (cmd: CliCommand, positionals: string[], values: Record<string, unknown>, out = io()) => Promise.resolve(cmd.run({ values, positionals }, out));

describe("serverpark policy / compliance", () => {
  it("policy --json: the local stack has no mandatory violation (exit 0)", async () => {
    const out = io();
    expect(await run(policy, ["local"], { json: true }, out)).toBe(EXIT.ok);
    const result = JSON.parse(out.stdout);
    expect(result).toMatchObject({ stack: "local", pack: { name: "serverpark-iso27001" }, config: "policies/config/local.json", mandatoryViolations: 0 });
    expect(result.policies.map((p: { policy: string }) => p.policy)).toContain("sp-111-redundant-service-survives-single-failure");
    // policies/config/local.json is `{}` and the db replicates: not even an advisory finding.
    expect(result.violations).toEqual([]);
  }, 180_000);

  it("policy exits 1 on a stack with a mandatory violation and names resource, policy, control and fix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-cli-"));
    const stack = fixtureStack(loadFixture("db-on-internet.yaml"));
    const file = join(dir, "Pulumi.broken.yaml");
    writeFileSync(file, stringify({ config: stack.config }));
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "node"), [join(ROOT, "bin", "serverpark.js"), "policy", file], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 170_000,
    });
    const out = { stdout: r.stdout };
    expect(r.status, r.stderr).toBe(EXIT.invalid);
    expect(out.stdout).toMatch(/MANDATORY sp-302-backends-off-internet \[A\.8\.20, A\.8\.22\] serverpark:index:Datacenter fra1/);
    expect(out.stdout).toMatch(/services\[5\] \(db\) is a db service attached to the internet network public\. Fix: remove public/);
    expect(out.stdout).toMatch(/remediation: Remove the internet network/);
    expect(out.stdout).toMatch(/[1-9]\d* mandatory/);
  }, 180_000);

  it("compliance writes the Markdown and HTML reports", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-soa-"));
    const out = io();
    expect(await run(compliance, ["local"], { out: dir }, out)).toBe(EXIT.ok);
    // No evidence given: the controls only a run checks (A.5.29, A.5.30 by chaos runs, A.8.29 by fuzz runs) await it.
    expect(out.stdout).toMatch(
      /^local: \d+ pass, 0 fail, 0 advisory, 0 stale, 3 no evidence, \d+ not applicable, \d+ not addressed \(of 93 Annex A controls\)/,
    );
    const md = readFileSync(join(dir, "compliance-local.md"), "utf8");
    expect(md).toMatch(/\| A\.8\.14 \| Redundancy of information processing facilities \| yes \| policy \| PASS \|/);
    // Supporting utilities pass: h3 and h6 are single-fed, but each carries a db data node with its peer on the other feed.
    expect(md).toMatch(/\| A\.7\.11 \| Supporting utilities \| yes \| policy \| PASS \|/);
    expect(readFileSync(join(dir, "compliance-local.html"), "utf8")).toMatch(/<tr id="A\.8\.14">/);
  }, 180_000);

  it("rejects bad options as usage errors (exit 2 through main)", async () => {
    await expect(run(policy, ["local"], { tag: ["novalue"] })).rejects.toThrow(UsageError);
    await expect(run(policy, ["local"], { tag: ["novalue"] })).rejects.toThrow(/--tag expects key=value/);
    await expect(run(compliance, ["local"], { format: "pdf" })).rejects.toThrow(/unknown format "pdf"/);
    await expect(run(policy, ["local"], { config: "/nonexistent.json" })).rejects.toThrow(/--config \/nonexistent.json/);
  });
});
