/**
 * The local stack (`db.replicas: 2`), run under Pulumi mocks: the program registers the two data nodes and the pg_auto_failover monitor as
 * containers, on three different hosts; each gets its HA view in its runtime config, and
 * the group's two logins as Pulumi secret files (the monitor its own login's only). The monitor
 * answers to its own name only. With `replicas: 1` (a variant: not redundant) nothing of this exists.
 */
import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  DB_HA_MONITOR_PASSWORD_PATH,
  DB_HA_REPLICATION_PASSWORD_PATH,
  DB_PASSWORD_PATH,
  DB_PROBE_LOGIN_PATH,
  RUNTIME_CONFIG_PATH,
  TLS_PATHS,
} from "../../contracts/paths";
import { loadStackFile } from "../../components/spec/load";
import { isSecretValue, runUnderMocks, type MockRun, type RecordedResource } from "../support/pulumiMocks";

const CONTAINER = "docker:index/container:Container";
const PASSWORD = "random:index/randomPassword:RandomPassword";
type Run = MockRun<typeof import("../../stacks/index.js")>;

function localConfig(dbReplicas: number): Record<string, unknown> {
  const config = structuredClone(loadStackFile("local").config) as Record<string, unknown>;
  const dc = config["serverpark:datacenter"] as { services: { id: string; replicas: number; redundant?: boolean }[] };
  const db = dc.services.find((s) => s.id === "db")!;
  db.replicas = dbReplicas;
  // One replica cannot be redundant (validate refuses it).
  if (dbReplicas < 2) delete db.redundant;
  return config;
}

const label = (r: RecordedResource, key: string) => (r.inputs.labels as { label: string; value: string }[]).find((l) => l.label === `serverpark.${key}`)?.value;
const container = (run: Run, replica: string) => run.byType(CONTAINER).find((c) => label(c, "replica") === replica);
const uploads = (c: RecordedResource) => new Map(((c.inputs.uploads ?? []) as { file: string; content: string }[]).map((u) => [u.file, u.content]));
const configOf = (c: RecordedResource) => JSON.parse(uploads(c).get(RUNTIME_CONFIG_PATH)!) as { ha?: unknown; addresses: Record<string, string> };

let ha: Run;
let single: Run;

beforeAll(async () => {
  ha = await runUnderMocks(() => import("../../stacks/index.js"), { stack: "local", config: localConfig(2) });
  // The program runs when its module loads: load it afresh for the second run.
  vi.resetModules();
  single = await runUnderMocks(() => import("../../stacks/index.js"), { stack: "local", config: localConfig(1) });
}, 120_000);

describe("db with replicas: 2 under mocks", () => {
  it("registers two data nodes and a monitor, each on a host of its own", () => {
    const members = ["db-0", "db-1", "db-monitor"].map((id) => container(ha, id)!);
    expect(members.every(Boolean)).toBe(true);
    expect(new Set(members.map((c) => label(c, "host"))).size).toBe(3);
    expect(members.map((c) => label(c, "service"))).toEqual(["db", "db", "db"]);
    // One data volume each; backups only from the data nodes.
    const volumes = (c: RecordedResource) => ((c.inputs.volumes ?? []) as { containerPath: string }[]).map((v) => v.containerPath).sort();
    expect(volumes(members[0]!)).toEqual(["/var/lib/serverpark/backup", "/var/lib/serverpark/db"]);
    expect(volumes(members[2]!)).toEqual(["/var/lib/serverpark/db"]);
  });

  it("tells each member its part, the monitor's address and the data nodes in its runtime config", () => {
    const address = (id: string) => configOf(container(ha, id)!).addresses.private!;
    const nodes = ["db-0", "db-1"].map((name) => ({ name, host: address(name), port: 5432 }));
    for (const id of ["db-0", "db-1", "db-monitor"]) {
      expect(configOf(container(ha, id)!).ha).toEqual({
        part: id === "db-monitor" ? "monitor" : "postgres",
        name: id,
        hostname: address(id),
        monitor: { host: address("db-monitor"), port: 5432 },
        nodes,
      });
    }
  });

  it("hands the group's two logins as Pulumi secret files, the same for all that get them, and nowhere else; the monitor gets its own login only", () => {
    const members = ["db-0", "db-1", "db-monitor"].map((id) => container(ha, id)!);
    const dataNodes = members.slice(0, 2);
    const monitorPasswords = new Set(members.map((c) => uploads(c).get(DB_HA_MONITOR_PASSWORD_PATH)));
    const replicationPasswords = new Set(dataNodes.map((c) => uploads(c).get(DB_HA_REPLICATION_PASSWORD_PATH)));
    expect(monitorPasswords.size).toBe(1);
    expect(replicationPasswords.size).toBe(1);
    const [monitorPassword] = [...monitorPasswords];
    const [replicationPassword] = [...replicationPasswords];
    expect(monitorPassword).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(replicationPassword).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(monitorPassword).not.toBe(replicationPassword);
    // Least privilege: a compromised monitor holds nothing that reads the data (no application or
    // replication password, no NOC verifier); the data nodes hold what they need.
    const monitorFiles = [...uploads(members[2]!).keys()];
    expect(monitorFiles).toContain(DB_HA_MONITOR_PASSWORD_PATH);
    for (const path of [DB_PASSWORD_PATH, DB_HA_REPLICATION_PASSWORD_PATH, DB_PROBE_LOGIN_PATH]) {
      expect(monitorFiles, path).not.toContain(path);
      for (const c of dataNodes) expect([...uploads(c).keys()], `${c.name} ${path}`).toContain(path);
    }
    expect(JSON.stringify([...uploads(members[2]!)])).not.toContain(replicationPassword);
    expect(ha.byType(PASSWORD).map((r) => r.name)).toEqual(expect.arrayContaining(["fra1-svc-db-ha-monitor-password", "fra1-svc-db-ha-replication-password"]));
    for (const c of members) {
      expect(isSecretValue(c.rawInputs.uploads), c.name).toBe(true);
      expect(uploads(c).get(RUNTIME_CONFIG_PATH)).not.toContain(monitorPassword);
      expect(uploads(c).get(RUNTIME_CONFIG_PATH)).not.toContain(replicationPassword);
      expect(JSON.stringify(c.inputs.envs ?? [])).not.toContain(replicationPassword);
    }
    for (const c of ha.byType(CONTAINER).filter((x) => label(x, "service") !== "db")) {
      const all = JSON.stringify([...uploads(c)]);
      expect(all, c.name).not.toContain(monitorPassword);
      expect(all, c.name).not.toContain(replicationPassword);
    }
  });

  it("puts the monitor's address on the service certificate (the keepers check it: sslmode verify-full)", () => {
    const monitor = container(ha, "db-monitor")!;
    const cert = new X509Certificate(uploads(monitor).get(TLS_PATHS.cert)!);
    expect(cert.checkIP(configOf(monitor).addresses.private!)).toBe(configOf(monitor).addresses.private);
    expect(cert.checkHost("db-monitor")).toBe("db-monitor");
  });

  it("lets only the data nodes answer to the service's name on the Docker networks", () => {
    const aliases = (c: RecordedResource) => ((c.inputs.networksAdvanced ?? []) as { aliases?: string[] }[]).flatMap((n) => n.aliases ?? []);
    expect(new Set(aliases(container(ha, "db-monitor")!))).toEqual(new Set(["db-monitor"]));
    expect(aliases(container(ha, "db-0")!)).toContain("db");
  });
});

describe("db with replicas: 1 under mocks (a variant of the local stack)", () => {
  it("runs one PostgreSQL: no monitor, no HA view, no HA logins", () => {
    expect(container(single, "db-monitor")).toBeUndefined();
    const db = container(single, "db-0")!;
    expect(configOf(db).ha).toBeUndefined();
    expect([...uploads(db).keys()]).toContain(DB_PASSWORD_PATH);
    expect([...uploads(db).keys()]).not.toContain(DB_HA_MONITOR_PASSWORD_PATH);
    expect([...uploads(db).keys()]).not.toContain(DB_HA_REPLICATION_PASSWORD_PATH);
    expect(
      single
        .byType(PASSWORD)
        .map((r) => r.name)
        .filter((n) => n.includes("-ha-")),
    ).toEqual([]);
  });
});
