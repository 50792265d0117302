/** Table tests for spec validation: every mistake is reported with its config path. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadStackFile, parseStackFile, StackFileError } from "../../components/spec/load";
import { formatPath } from "../../components/spec/issues";
import { validateSpec } from "../../components/spec/validate";
import { planDatacenter } from "../../components/plan";
import { backupClientsOf } from "../../components/model/launch";

const local = loadStackFile("local").config["serverpark:datacenter"] as Record<string, any>;
const clone = () => structuredClone(local);

function problems(mutate: (spec: Record<string, any>) => void): string[] {
  const spec = clone();
  mutate(spec);
  const result = validateSpec(spec);
  return result.ok ? [] : result.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
}

describe("validateSpec", () => {
  it("accepts the local stack", () => {
    const result = validateSpec(clone());
    expect(result.ok).toBe(true);
  });

  it("reports a missing spec with a pointer to the example", () => {
    const result = validateSpec(undefined);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues[0]!.message).toMatch(/missing.*Pulumi\.local\.yaml/);
  });

  it.each([
    ["unknown rack", (s: any) => (s.hosts[0].rack = "r9"), 'hosts[0].rack: unknown rack "r9"; expected one of: r1, r2'],
    ["PSU on a missing PDU", (s: any) => (s.hosts[1].psus[1] = "r1-pdu-z"), 'hosts[1].psus[1]: unknown PDU "r1-pdu-z"'],
    ["PSU on another rack's PDU", (s: any) => (s.hosts[0].psus[0] = "r2-pdu-a"), 'hosts[0].psus[0]: PDU "r2-pdu-a" is in rack r2, but host h1 is in rack r1'],
    ["duplicate host id", (s: any) => (s.hosts[3].id = "h1"), 'hosts[3].id: duplicate host id "h1" (first declared at hosts[0])'],
    ["overlapping CIDRs", (s: any) => (s.networks[1].cidr = "10.42.0.128/25"), 'networks[1].cidr: 10.42.0.128/25 overlaps 10.42.0.0/24 of network "public"'],
    [
      "CIDR with host bits",
      (s: any) => (s.networks[0].cidr = "10.42.0.5/24"),
      'networks[0].cidr: "10.42.0.5/24" has host bits set (did you mean 10.42.0.0/24?)',
    ],
    [
      "CIDR on Docker's bridge",
      (s: any) => (s.networks[0].cidr = "172.17.5.0/24"),
      "networks[0].cidr: 172.17.5.0/24 overlaps 172.17.0.0/16 (Docker's default bridge)",
    ],
    ["unknown plan", (s: any) => (s.services[0].plan = "vps-xl"), 'services[0].plan: unknown plan "vps-xl"; expected one of: vps-s, vps-m, ded-m'],
    ["unknown network", (s: any) => (s.services[0].networks = ["dmz"]), 'services[0].networks[0]: unknown network "dmz"'],
    ["PDU on a missing feed", (s: any) => (s.racks[0].pdus[1].feed = "C"), 'racks[0].pdus[1].feed: unknown feed "C"; expected one of: A, B'],
    [
      "more replicas than eligible hosts",
      (s: any) => (s.services[5].replicas = 4),
      'services[5].replicas: 4 replicas need 4 different hosts, but only 3 dedicated hosts can hold plan "ded-m" (h3, h6, h7)',
    ],
    [
      "plan bigger than any host",
      (s: any) => (s.plans[2].cpus = 64),
      'plans[2]: plan "ded-m" (64 cpus, 32 GB, 1000 GB disk) is bigger than every dedicated host',
    ],
    ["wrong type", (s: any) => (s.hosts[0].capacity.cpus = "many"), 'hosts[0].capacity.cpus: expected number, got string "many"'],
    ["unknown setting", (s: any) => (s.hosts[0].colour = "red"), "hosts[0].colour: is not a known setting (check the spelling)"],
    ["bad role", (s: any) => (s.services[0].role = "ftp"), 'services[0].role: expected one of "web", "proxy"'],
    ["no management network", (s: any) => (s.networks[2].exposure = "internal"), 'networks: no network has exposure "management"'],
    [
      "publishing beyond loopback",
      (s: any) => (s.docker = { publishAddress: "0.0.0.0" }),
      "docker.publishAddress: is 0.0.0.0; the local datacenter publishes only on loopback",
    ],
    ["host id reused as service id", (s: any) => (s.services[0].id = "h2"), 'services[0].id: "h2" is already a host id'],
    ["minReplicas above replicas", (s: any) => (s.services[0].minReplicas = 3), "services[0].minReplicas: is 3, more than the 2 replicas declared"],
  ])("%s", (_name, mutate, expected) => {
    const found = problems(mutate);
    expect(
      found.some((p) => p.startsWith(expected)),
      `got:\n${found.join("\n")}`,
    ).toBe(true);
  });

  it("refuses mail and file with more than one replica until they replicate, and accepts db with two", () => {
    // services[3] is mail, [4] files, [5] db in the local stack.
    expect(problems((s) => (s.services[3].replicas = 2))).toEqual([
      "services[3].replicas: is 2, but mail does not replicate its mailboxes yet: two replicas would hold different data; set replicas: 1",
    ]);
    expect(problems((s) => (s.services[4].replicas = 3))).toEqual([
      "services[4].replicas: is 3, but file does not replicate its files yet: two replicas would hold different data; set replicas: 1",
    ]);
    expect(problems((s) => (s.services[5].replicas = 2))).toEqual([]);
    expect(problems((s) => (s.services[3].replicas = 1))).toEqual([]);
  });

  it("refuses backup quotas that the target host's disk cannot hold, counting the default for services without one", () => {
    // mail (services[3]) ships to h7 (4,000 GB); files [4] to h2 (2,000 GB); db [5] to h8 (4,000 GB).
    expect(problems((s) => (s.services[5].backup.quotaGb = 3968))).toEqual([]);
    expect(problems((s) => (s.services[5].backup.quotaGb = 4001))).toEqual([
      "services[5].backup.quotaGb: host h8 keeps the backups of db (4001 GB): 4001 GB of quotas on a 4000 GB disk. Fix: lower backup.quotaGb, or ship some of them to another host",
    ]);
    // Two services on one target: the default 32 GB of one counts against the other's quota.
    expect(
      problems((s) => {
        s.services[4].backup.targetHost = "h8";
        s.services[5].backup.quotaGb = 3990;
      }),
    ).toEqual([
      "services[5].backup.quotaGb: host h8 keeps the backups of files (32 GB), db (3990 GB): 4022 GB of quotas on a 4000 GB disk. Fix: lower backup.quotaGb, or ship some of them to another host",
    ]);
  });

  it("reports every problem at once, sorted by path", () => {
    const found = problems((s) => {
      s.services[0].plan = "nope";
      s.hosts[0].rack = "nope";
      s.networks[1].cidr = "10.42.0.0/24";
    });
    expect(found.map((f) => f.split(":")[0])).toEqual(["hosts[0].rack", "networks[1].cidr", "services[0].plan"]);
  });
});

describe("stack files", () => {
  it("locates a config path to its line and column", () => {
    const file = loadStackFile("local");
    const pos = file.locate(["hosts", 2, "rack"]);
    expect(pos?.line).toBeGreaterThan(1);
    const lines = readFileSync(file.path, "utf8").split("\n");
    expect(lines[pos!.line - 1]).toContain("id: h3");
  });

  it("reports malformed YAML with its line", () => {
    const parse = () => parseStackFile("config:\n  serverpark:datacenter: [unclosed\n", "stacks/Pulumi.bad.yaml");
    expect(parse).toThrow(StackFileError);
    expect(parse).toThrow(/stacks\/Pulumi\.bad\.yaml:\d+:\d+/);
  });
});

describe("backup quotas reach the target's store", () => {
  it("as quotaBytes in the agent's SP_BACKUP_CLIENTS when declared, and not at all otherwise (the store's default)", () => {
    const spec = clone();
    spec.services[5].backup.quotaGb = 1.5;
    const result = validateSpec(spec);
    if (!result.ok) throw new Error(result.issues.map((i) => i.message).join("\n"));
    const plan = planDatacenter(result.spec);
    expect(
      backupClientsOf(
        plan,
        plan.hosts.find((h) => h.id === "h8")!,
      ),
    ).toEqual([{ service: "db", retentionDays: 30, quotaBytes: 1.5 * 1024 ** 3 }]);
    expect(
      backupClientsOf(
        plan,
        plan.hosts.find((h) => h.id === "h7")!,
      ),
    ).toEqual([{ service: "mail", retentionDays: 14 }]);
  });
});
