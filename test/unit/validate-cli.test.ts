/**
 * `serverpark validate`: role settings are checked with each role's own schema, and a
 * Hetzner stack gets Hetzner's checks — every problem with file:line:col and its config path.
 */
import "tsx/cjs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureIo } from "../support/cliIo";
import { stackVariant } from "../support/stackVariant";
import { validateSpec } from "../../components/spec/validate";
import { loadStackFile } from "../../components/spec/load";

// Loaded through the same require hook as the commands, so error classes are the same instances.
const { main } = createRequire(join(process.cwd(), "test/unit/validate-cli.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");

const io = () => captureIo();

describe("serverpark validate", () => {
  it("accepts both committed stacks and names their target", async () => {
    for (const [stack, target] of [
      ["local", "docker"],
      ["hetzner", "hetzner"],
    ] as const) {
      const c = io();
      expect(await main(["validate", stack, "--json"], c), c.stderr).toBe(0);
      const report = JSON.parse(c.stdout) as { ok: boolean; summary: { target: string; services: number } };
      expect(report.ok).toBe(true);
      expect(report.summary.target).toBe(target);
      expect(report.summary.services).toBeGreaterThan(0);
    }
  });

  it("checks each service's settings with its role's schema, at the line of the setting", async () => {
    const file = stackVariant("local", [
      ["{ name: www, type: CNAME, data: edge }", "{ name: www, type: CNAMEX, data: edge }"],
      ["settings: { records: [", "settings: { rrll: 3, records: ["],
      ["settings: { intervalMs: 10000,", "settings: { intervalMs: -5,"],
    ]);
    const c = io();
    expect(await main(["validate", file], c)).toBe(1);
    expect(c.stderr).toMatch(/Pulumi\.local\.yaml:\d+:\d+: serverpark:datacenter\.services\[2\]\.settings\.records\[0\]\.type: /);
    expect(c.stderr).toMatch(/Pulumi\.local\.yaml:\d+:\d+: serverpark:datacenter\.services\[2\]\.settings\.rrll: is not a known setting/);
    expect(c.stderr).toMatch(/serverpark:datacenter\.services\[7\]\.settings\.intervalMs: /);
    expect(c.stderr).toContain("has 3 problems");

    // The same check stops the Pulumi program: validateSpec is what it runs first.
    const raw = loadStackFile(file, process.cwd()).config["serverpark:datacenter"];
    const result = validateSpec(raw);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.issues.map((i) => i.path.join("."))).toEqual([
        "services.2.settings.records.0.type",
        "services.2.settings.rrll",
        "services.7.settings.intervalMs",
      ]);
  });

  it("runs Hetzner's own checks for a hetzner stack", async () => {
    const file = stackVariant("hetzner", [[/location: fsn1/, "location: nbg9"]]);
    const c = io();
    expect(await main(["validate", file, "--json"], c)).toBe(1);
    const report = JSON.parse(c.stdout) as { ok: boolean; issues: { path: string; message: string; at: string }[] };
    expect(report.ok).toBe(false);
    expect(report.issues).toContainEqual(
      expect.objectContaining({ path: "hetzner.location", message: expect.stringContaining('unknown Hetzner location "nbg9"') }),
    );
    expect(report.issues[0]!.at).toMatch(/Pulumi\.hetzner\.yaml:\d+:\d+$/);
  });

  it("refuses an unknown target", async () => {
    const file = stackVariant("local", [["serverpark:target: docker", "serverpark:target: aws"]]);
    const c = io();
    expect(await main(["validate", file], c)).toBe(1);
    expect(c.stderr).toContain('serverpark:target is "aws"; expected one of: docker, hetzner');
  });
});

describe("proxy routes in the spec", () => {
  it("must name a service of the datacenter and one of its ports", async () => {
    const file = stackVariant("local", [
      [
        "{ id: edge, role: proxy, replicas: 2, plan: vps-s, networks: [public, private], redundant: true }",
        `{ id: edge, role: proxy, replicas: 2, plan: vps-s, networks: [public, private], redundant: true, settings: { routes: [
          { hosts: [www.fra1.park.test], service: www },
          { hosts: [shop.fra1.park.test], service: shop },
          { hosts: [play.fra1.park.test], service: arena, port: https } ] } }`,
      ],
    ]);
    const c = io();
    expect(await main(["validate", file], c)).toBe(1);
    expect(c.stderr).toContain("has 2 problems");
    expect(c.stderr).toMatch(/services\[1\]\.settings\.routes\[1\]\.service: unknown service "shop"; expected one of: www, edge, ns/);
    expect(c.stderr).toMatch(/services\[1\]\.settings\.routes\[2\]\.port: service "arena" \(game\) has no port "https"; expected one of: game/);
  });
});

describe("backup schedules in the spec", () => {
  it("are checked as cron expressions, not only as five fields", async () => {
    const file = stackVariant("local", [['backup: { schedule: "15 2 * * *"', 'backup: { schedule: "75 2 * * *"']]);
    const c = io();
    expect(await main(["validate", file], c)).toBe(1);
    expect(c.stderr).toMatch(/services\[3\]\.backup\.schedule: "75 2 \* \* \*" is not a valid cron expression/);
  });
});

describe("the NOC's monitoring login", () => {
  it("must not be the db's application user, and its database must exist on the db service", async () => {
    const file = stackVariant("local", [["settings: { intervalMs: 10000,", "settings: { dbUser: app, dbName: shop, intervalMs: 10000,"]]);
    const c = io();
    expect(await main(["validate", file], c)).toBe(1);
    expect(c.stderr).toMatch(/services\[7\]\.settings\.dbUser: is "app", the application user of db service "db"/);
    expect(c.stderr).toMatch(/services\[7\]\.settings\.dbName: database "shop" is not one of db service "db"'s databases \(postgres, app\)/);
  });
});

describe("replicas of roles that do not replicate", () => {
  it("mail with two replicas is refused at the line of its replicas, saying why", async () => {
    const file = stackVariant("local", [[/id: mail\n(\s+)role: mail\n(\s+)replicas: 1/, "id: mail\n$1role: mail\n$2replicas: 2"]]);
    const c = io();
    expect(await main(["validate", file], c)).toBe(1);
    expect(c.stderr).toMatch(
      /Pulumi\.local\.yaml:\d+:\d+: serverpark:datacenter\.services\[3\]\.replicas: is 2, but mail does not replicate its mailboxes yet: two replicas would hold different data; set replicas: 1/,
    );
    expect(c.stderr).toContain("has 1 problem");
  });
});
