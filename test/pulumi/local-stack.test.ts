/**
 * The real program on the local stack's config, under Pulumi mocks: what would be created,
 * with which inputs.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/spec/load";
import { roleImageSource } from "../../components/targets/docker/images";
import { isSecretValue, runUnderMocks, valueOf, type MockRun, type RecordedResource } from "../support/pulumiMocks";

const CONTAINER = "docker:index/container:Container";
const NETWORK = "docker:index/network:Network";
const IMAGE = "docker:index/image:Image";
const VOLUME = "docker:index/volume:Volume";

let run: MockRun<typeof import("../../stacks/index.js")>;
const stackFile = loadStackFile("local");
const spec = stackFile.config["serverpark:datacenter"] as any;

beforeAll(async () => {
  run = await runUnderMocks(() => import("../../stacks/index.js"), { stack: "local", config: stackFile.config });
});

const label = (r: RecordedResource, key: string) => (r.inputs.labels as { label: string; value: string }[]).find((l) => l.label === `serverpark.${key}`)?.value;

describe("local stack under mocks", () => {
  it("creates one Docker network per declared network, plus the operator bridge", () => {
    const nets = run.byType(NETWORK);
    expect(nets.map((n) => n.inputs.name).sort()).toEqual(["fra1-mgmt", "fra1-operator", "fra1-private", "fra1-public"]);
    const byName = new Map(nets.map((n) => [n.inputs.name, n]));
    expect(byName.get("fra1-public")!.inputs.internal).toBe(false);
    expect(byName.get("fra1-private")!.inputs.internal).toBe(true);
    expect(byName.get("fra1-mgmt")!.inputs.internal).toBe(true);
    expect(byName.get("fra1-private")!.inputs.ipamConfigs).toEqual([{ subnet: "10.42.1.0/24", gateway: "10.42.1.1" }]);
  });

  it("runs one agent container per host on the management network", () => {
    const agents = run.byType(CONTAINER).filter((c) => label(c, "kind") === "host");
    expect(agents.map((a) => label(a, "host")).sort()).toEqual(spec.hosts.map((h: { id: string }) => h.id).sort());
    for (const a of agents) {
      expect(a.inputs.networksAdvanced).toHaveLength(1);
      expect(a.inputs.networksAdvanced[0].name).toBe("fra1-mgmt");
      expect(a.inputs.networksAdvanced[0].ipv4Address).toMatch(/^10\.42\.2\.\d+$/);
    }
  });

  it("labels, limits, hardens and health-checks every container", () => {
    const containers = run.byType(CONTAINER);
    expect(containers.length).toBeGreaterThanOrEqual(spec.hosts.length);
    for (const c of containers) {
      for (const key of ["datacenter", "kind", "role", "version"]) expect(label(c, key), `${c.name} label ${key}`).toBeTruthy();
      expect(c.inputs.memory).toBeGreaterThan(0);
      expect(c.inputs.cpuQuota).toBeGreaterThan(0);
      expect(c.inputs.healthcheck.tests).toEqual(["CMD", "node", "/app/healthcheck.mjs"]);
      expect(c.inputs.restart).toBe("unless-stopped");
      expect(c.inputs.user).toBe("1000:1000");
      expect(c.inputs.privileged).toBeUndefined();
      expect(c.inputs.logOpts).toMatchObject({ "max-size": "10m" });
    }
  });

  it("publishes ports on 127.0.0.1 only", () => {
    for (const c of run.byType(CONTAINER)) {
      for (const p of c.inputs.ports ?? []) expect(p.ip).toBe("127.0.0.1");
    }
  });

  it("builds one image per deployable role, from a pinned local context", () => {
    for (const img of run.byType(IMAGE)) {
      expect(img.inputs.build.context).toMatch(/^images\/[a-z-]+$/);
      // The tag is the hash of the built bundle and Dockerfile, "unbuilt" before the bundle exists.
      const role = img.inputs.build.context.slice("images/".length);
      expect(img.inputs.imageName).toMatch(/^serverpark\/[a-z-]+:\d+\.\d+\.\d+-(?:[0-9a-f]{12}|unbuilt)$/);
      expect(img.inputs.imageName).toBe(`serverpark/${role}:${roleImageSource(role)!.tag}`);
      expect(img.inputs.skipPush).toBe(true);
    }
    expect(run.byType(IMAGE).map((i) => i.inputs.imageName.split(":")[0])).toContain("serverpark/host-agent");
  });

  it("keeps databases, the NOC, host agents and management off the internet network; the customers' file service faces it with SFTP/FTPS only", () => {
    const internet = new Set(spec.networks.filter((n: { exposure: string }) => n.exposure === "internet").map((n: { id: string }) => `fra1-${n.id}`));
    for (const c of run.byType(CONTAINER)) {
      const role = label(c, "role");
      const nets = (c.inputs.networksAdvanced as { name: string }[]).map((n) => n.name);
      if (role === "file") {
        // The local stack's customers upload their sites from the internet (issue 19).
        expect(nets.filter((n) => internet.has(n))).toEqual(["fra1-public"]);
        const ports = c.inputs.ports as { internal: number; external: number }[];
        expect(ports.map((p) => p.internal).slice(0, 2)).toEqual([22, 21]);
        // The passive ports: the stack's own host ports (the lock's), listened on under the same numbers inside.
        const passive = ports.slice(2);
        const lock = JSON.parse(readFileSync("stacks/Pulumi.local.lock.json", "utf8")) as { ports: Record<string, number> };
        expect(passive.map((p) => p.external)).toEqual(Array.from({ length: 10 }, (_, i) => lock.ports[`files-0:${30000 + i}`]));
        expect(passive.map((p) => p.internal)).toEqual(passive.map((p) => p.external));
        expect(passive.map((p) => p.external - passive[0]!.external)).toEqual(Array.from({ length: 10 }, (_, i) => i));
        expect(c.inputs.envs).toContain(`SP_FILE_FTP_PASSIVE_PORTS=${passive[0]!.external}-${passive[9]!.external}`);
        continue;
      }
      if (role === "db" || role === "noc" || role === "host-agent") {
        expect(
          nets.filter((n) => internet.has(n)),
          `${c.name} on ${nets}`,
        ).toEqual([]);
        expect(c.inputs.ports ?? []).toEqual(role === "noc" ? expect.any(Array) : []);
      }
    }
  });

  it("gives stateful replicas a data volume, a backup volume of their own, and the address of their backup target's store", () => {
    const volumes = new Map(run.byType(VOLUME).map((v) => [v.inputs.name as string, v]));
    const stateful = run.byType(CONTAINER).filter((c) => ["db", "file", "mail"].includes(label(c, "role") ?? ""));
    // mail-0, files-0, the db group's two data nodes and its monitor.
    expect(stateful.map((c) => label(c, "replica")).sort()).toEqual(["db-0", "db-1", "db-monitor", "files-0", "mail-0"]);
    for (const c of stateful) {
      const service = (spec.services as { id: string; backup?: { targetHost?: string } }[]).find((s) => s.id === label(c, "service"))!;
      if (label(c, "replica") === "db-monitor") {
        // The monitor keeps only the group's state: a data volume, no backups.
        expect((c.inputs.volumes as { containerPath: string }[]).map((m) => m.containerPath)).toEqual([expect.stringMatching(/^\/var\/lib\/serverpark\//)]);
        expect((c.inputs.envs as string[]).filter((e) => e.startsWith("SP_BACKUP_"))).toEqual([]);
        continue;
      }
      // The file service also writes the customers' published sites to their shared volume (issue 19).
      const mounts = (c.inputs.volumes as { volumeName: string; containerPath: string }[]).filter((m) => m.containerPath !== "/srv/sites");
      expect(mounts.map((m) => m.containerPath)).toEqual(
        service.backup ? [expect.stringMatching(/^\/var\/lib\/serverpark\//), "/var/lib/serverpark/backup"] : [expect.any(String)],
      );
      for (const m of mounts) expect(volumes.has(m.volumeName), m.volumeName).toBe(true);
      if (!service.backup) continue;
      const backup = volumes.get(mounts[1]!.volumeName)!;
      const replicaHost = label(c, "host");
      // The volume holds the local copies, on the replica's own host; each copy also goes to the target's store.
      expect(label(backup, "host")).toBe(replicaHost);
      expect(label(backup, "kind")).toBe("backup");
      expect(c.inputs.envs).toContain("SP_BACKUP_DIR=/var/lib/serverpark/backup");
      const target = run.byType(CONTAINER).find((x) => label(x, "kind") === "host" && label(x, "host") === service.backup!.targetHost)!;
      const address = (target.inputs.envs as string[]).find((e) => e.startsWith("SP_MGMT_ADDRESS="))!.split("=")[1];
      expect(c.inputs.envs).toContain(`SP_BACKUP_STORE_URL=https://${address}:9100`);
      expect(c.inputs.envs).toContain(`SP_BACKUP_STORE_HOST=${service.backup.targetHost}`);
      // The target's agent keeps a store for the service, on a volume of its own on that host.
      const clients = JSON.parse((target.inputs.envs as string[]).find((e) => e.startsWith("SP_BACKUP_CLIENTS="))!.slice("SP_BACKUP_CLIENTS=".length));
      expect(clients).toContainEqual({ service: service.id, retentionDays: expect.any(Number) });
      const store = (target.inputs.volumes as { volumeName: string; containerPath: string }[]).find(
        (v) => v.containerPath === "/var/lib/serverpark/backup-store",
      )!;
      expect(label(volumes.get(store.volumeName)!, "host")).toBe(service.backup.targetHost);
      const uploads = (c.inputs.uploads as { file: string; content: string }[]).map((u) => u.file);
      expect(uploads).toEqual(expect.arrayContaining(["/etc/serverpark/backup-client/tls.crt", "/etc/serverpark/backup-client/tls.key"]));
    }
  });

  it("parents every resource under the Datacenter component", () => {
    const components = run.resources.filter((r) => r.type.startsWith("serverpark:"));
    expect(components.filter((c) => c.type === "serverpark:index:Datacenter").map((c) => c.name)).toEqual(["fra1"]);
    expect(components.filter((c) => c.type === "serverpark:datacenter:Host")).toHaveLength(spec.hosts.length);
    expect(components.filter((c) => c.type === "serverpark:datacenter:Service")).toHaveLength(spec.services.length);
  });

  it("exports the domain and the addresses of every replica", async () => {
    expect(await valueOf(run.exports.domain)).toBe("fra1.park.test");
    const addresses = await valueOf(run.exports.addresses);
    expect(addresses["www-0"]).toMatchObject({ private: expect.stringMatching(/^10\.42\.1\./), mgmt: expect.stringMatching(/^10\.42\.2\./) });
  });

  it("hands every replica its config, a certificate from the datacenter CA, and its key as a secret", () => {
    const ca = run.byType("tls:index/selfSignedCert:SelfSignedCert");
    expect(ca).toHaveLength(1);
    const certs = run.byType("tls:index/locallySignedCert:LocallySignedCert");
    // One per service, one per host agent, the NOC's management client and the operator's, one
    // backup client per replica that ships its backups to its target host.
    const shipping = run.byType(CONTAINER).filter((c) => (c.inputs.envs as string[]).some((e) => e.startsWith("SP_BACKUP_STORE_URL="))).length;
    expect(shipping).toBeGreaterThan(0);
    expect(certs).toHaveLength(spec.services.length + spec.hosts.length + 2 + shipping);
    for (const c of run.byType(CONTAINER).filter((x) => label(x, "kind") === "replica")) {
      const uploads = new Map((c.inputs.uploads as { file: string; content: string }[]).map((u) => [u.file, u.content]));
      expect([...uploads.keys()]).toEqual(
        expect.arrayContaining(["/etc/serverpark/config.json", "/etc/serverpark/tls/tls.crt", "/etc/serverpark/tls/tls.key", "/etc/serverpark/tls/ca.crt"]),
      );
      const config = JSON.parse(uploads.get("/etc/serverpark/config.json")!);
      expect(config).toMatchObject({ datacenter: "fra1", replica: label(c, "replica"), service: label(c, "service") });
      const cert = new X509Certificate(uploads.get("/etc/serverpark/tls/tls.crt")!);
      expect(cert.subjectAltName).toContain(`DNS:${label(c, "service")}.fra1.park.test`);
      expect(cert.checkIssued(new X509Certificate(uploads.get("/etc/serverpark/tls/ca.crt")!))).toBe(true);
      // One secret element makes the whole uploads list secret on the wire: the key is never plain.
      expect(isSecretValue(c.rawInputs.uploads), `${c.name}: uploads carrying the key must be a Pulumi secret`).toBe(true);
    }
  });

  it("gives the management plane its identities: host agents a server certificate on their management address, the NOC a client certificate, the operator one as a secret output", async () => {
    const uploadsOf = (c: (typeof run.resources)[number]) => new Map((c.inputs.uploads as { file: string; content: string }[]).map((u) => [u.file, u.content]));
    for (const agent of run.byType(CONTAINER).filter((x) => label(x, "kind") === "host")) {
      const env = agent.inputs.envs as string[];
      const address = env.find((e) => e.startsWith("SP_MGMT_ADDRESS="))?.split("=")[1];
      expect(address, `${agent.name} serves its management port on its management address`).toMatch(/^10\.42\.2\./);
      const uploads = uploadsOf(agent);
      const cert = new X509Certificate(uploads.get("/etc/serverpark/tls/tls.crt")!);
      expect(cert.subjectAltName).toContain(`IP Address:${address}`);
      expect(cert.checkIssued(new X509Certificate(uploads.get("/etc/serverpark/tls/ca.crt")!))).toBe(true);
      expect(isSecretValue(agent.rawInputs.uploads), `${agent.name}: its key is a secret`).toBe(true);
    }
    const noc = run.byType(CONTAINER).find((x) => label(x, "role") === "noc")!;
    const client = new X509Certificate(uploadsOf(noc).get("/etc/serverpark/management-client/tls.crt")!);
    expect(client.subject).toContain("OU=serverpark management client");
    expect(client.subject).toContain("CN=noc");
    for (const other of run.byType(CONTAINER).filter((x) => label(x, "kind") === "replica" && label(x, "role") !== "noc")) {
      expect(
        [...uploadsOf(other).keys()].some((f) => f.includes("management-client")),
        `${other.name} holds no management client certificate`,
      ).toBe(false);
    }
    const operator = await valueOf(run.exports.operatorCredentials);
    expect(new X509Certificate(operator.certPem).subject).toContain("CN=operator");
    expect(operator.keyPem).toMatch(/PRIVATE KEY/);
  });
});
