/**
 * The real stacks, recorded under Pulumi's mocks: the local stack passes every mandatory
 * policy (under its policy config, policies/config/local.json); CrossGuard's own analyzer
 * handlers agree with the in-process evaluator on every diagnostic; and a Pulumi secret in
 * stack config stays marked as one through the recording, and unwrapped for policies.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/spec/load";
import { POLICIES } from "../../policies/rules";
import { checkStack, type StackCheck } from "../../components/compliance/check";
import { evaluatePolicies } from "../../components/compliance/evaluate";
import type { RecordedResource } from "../../components/compliance/record";
import { backupTargetSeparated } from "../../policies/rules/backup";
import { crossGuard } from "./crossguard";
import { fixtureStack, loadFixture } from "./stacks";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

let local: StackCheck;
let hetzner: StackCheck;
beforeAll(async () => {
  local = await checkStack(loadStackFile("local"));
  // The Hetzner stack needs its registry password; a user sets it with `pulumi config set --secret`.
  const file = loadStackFile("hetzner");
  // As the stack exists after an `up`: its certificates are issued and its passwords and salts
  // generated, so each server's user data (which carries them) is known and the containers it
  // starts can be judged.
  const pem = (kind: string) => `-----BEGIN ${kind}-----\nissued-at-up\n-----END ${kind}-----\n`;
  const computed = (type: string) =>
    type === "tls:index/privateKey:PrivateKey"
      ? { privateKeyPem: pem("PRIVATE KEY") }
      : type.startsWith("tls:index/") && type.endsWith("Cert")
        ? { certPem: pem("CERTIFICATE") }
        : type === "tls:index/certRequest:CertRequest"
          ? { certRequestPem: pem("CERTIFICATE REQUEST") }
          : type === "random:index/randomPassword:RandomPassword"
            ? { result: "generated-at-up-0123456789abcdef" }
            : type === "random:index/randomBytes:RandomBytes"
              ? { base64: "c2FsdC1nZW5lcmF0ZWQtYXQtdXA=" }
              : undefined;
  hetzner = await checkStack(
    { ...file, config: { ...file.config, "serverpark:registryPassword": { secure: "v1:bm90LXJlYWxseS1lbmNyeXB0ZWQ=" } } },
    { computed },
  );
});

describe("the local stack", () => {
  it("records the Datacenter with its model, and the Docker resources", () => {
    const dc = local.resources.find((r) => r.type === "serverpark:index:Datacenter")!;
    expect(Object.keys(dc.outputs.model as object).sort()).toEqual(["plan", "spec", "target"]);
    expect(local.resources.filter((r) => r.type === "docker:index/container:Container").length).toBeGreaterThanOrEqual(7);
    const container = local.resources.find((r) => r.type === "docker:index/container:Container")!;
    expect(container.options.parent).toMatch(/serverpark:datacenter:(Host|Service)/);
    expect(container.provider?.type).toBe("pulumi:providers:docker");
  });

  it("passes every mandatory policy under its policy config", () => {
    expect(local.configSource).toBe("policies/config/local.json");
    const mandatory = local.evaluation.violations.filter((v) => v.enforcementLevel === "mandatory");
    expect(mandatory.map((v) => `${v.policy}: ${v.detail}`)).toEqual([]);
  });

  it("evaluates every policy of the pack", () => {
    expect(local.evaluation.outcomes.map((o) => o.policy)).toEqual(POLICIES.map((p) => p.name));
  });

  it("gets the same diagnostics from CrossGuard's own analyzer handlers as from the in-process evaluator", async () => {
    const key = (d: { policy: string; message: string; urn?: string; level: string }) => `${d.level} ${d.policy} ${d.urn ?? ""} ${d.message}`;
    const same = async (resources: StackCheck["resources"]) => {
      const ours = await evaluatePolicies(POLICIES, resources, { packEnforcementLevel: "mandatory" });
      const theirs = await crossGuard(POLICIES, resources);
      expect(ours.violations.map((v) => key({ ...v, level: v.enforcementLevel })).sort()).toEqual(theirs.map(key).sort());
      return theirs;
    };
    // The local stack has no violation; a broken variant (one db replica on single-fed h3, and
    // the db on the internet network) has some, from stack and resource policies.
    expect(await same(local.resources)).toEqual([]);
    const broken = await checkStack(fixtureStack(loadFixture("single-db.yaml"), loadFixture("db-on-internet.yaml")));
    expect((await same(broken.resources)).map((d) => d.policy)).toEqual(
      expect.arrayContaining(["sp-101-power-path-survives-feed-loss", "sp-302-backends-off-internet"]),
    );
  });
});

describe("the hetzner stack", () => {
  it("keeps a Pulumi secret marked in the recorded inputs", () => {
    const json = JSON.stringify(hetzner.resources.map((r) => r.inputs));
    expect(json).toContain(SECRET_SIG);
    expect(json).not.toMatch(/registryPassword[^,]*bm90LXJlYWxseS/);
  });

  it("passes every mandatory policy, sp-422 and data residency included", () => {
    const mandatory = hetzner.evaluation.violations.filter((v) => v.enforcementLevel === "mandatory");
    expect(mandatory.map((v) => `${v.policy}: ${v.detail}`)).toEqual([]);
    const residency = hetzner.evaluation.outcomes.find((o) => o.policy === "sp-501-data-residency")!;
    expect([residency.checked, residency.violations.length]).toEqual([1, 0]);
    // The containers cloud-init starts are judged too (on servers whose userData is known).
    expect(hetzner.evaluation.outcomes.find((o) => o.policy === "sp-201-no-privileged-container")!.checked).toBeGreaterThan(0);
    // sp-422 read every stateful replica's unit: its local copies and the store it ships to.
    expect(hetzner.evaluation.outcomes.find((o) => o.policy === "sp-422-backup-target-separated")!.checked).toBeGreaterThan(0);
  });

  it("fails sp-422 when the units ship no copy off the server: the local directory alone is the replica's own host", async () => {
    // What the Hetzner target deployed before backups left the host: SP_BACKUP_DIR on a
    // directory of the server's own disk (/srv/serverpark/backups/<replica>) and nothing more.
    const unshipped = hetzner.resources.map((r) => JSON.parse(JSON.stringify(r).replace(/--env SP_BACKUP_STORE_URL=[^\s\\"]+/g, "")) as RecordedResource);
    const found = (await evaluatePolicies([backupTargetSeparated], unshipped, { packEnforcementLevel: "mandatory" })).violations;
    const spec = loadStackFile("hetzner").config["serverpark:datacenter"] as { services: { role: string; replicas: number; backup?: unknown }[] };
    const expected = spec.services.filter((s) => ["mail", "file", "db"].includes(s.role) && s.backup).reduce((n, s) => n + s.replicas, 0);
    expect(expected).toBeGreaterThan(0);
    expect(found.map((v) => v.enforcementLevel)).toEqual(Array.from({ length: expected }, () => "mandatory"));
    for (const v of found)
      expect(v.detail).toMatch(
        /^serverpark:datacenter\.services\[\d\] \(\w+\): replica (\S+) \(Unit serverpark-\1 copied by "[^"]+"\) keeps its backups on its own host h\d only: it is started without SP_BACKUP_STORE_URL, so no copy leaves the host, not to its backup target h\d\. Fix: /,
      );
  });
});

describe("sp-422 on what the hetzner stack would deploy", () => {
  it("fails a replica its server does not start where the pack can read it: no evidence is no pass", async () => {
    // As if the units were delivered in a form the pack does not read: the servers are there, their containers not.
    const bare = hetzner.resources
      .filter((r) => !(r.type === "command:remote:CopyToRemote" && String(r.inputs.remotePath).endsWith(".service")))
      .map((r) =>
        r.type === "hcloud:index/server:Server"
          ? { ...r, inputs: { ...r.inputs, userData: "#cloud-config\n{}\n" }, outputs: { ...r.outputs, userData: "#cloud-config\n{}\n" } }
          : r,
      );
    expect(bare.length).toBeLessThan(hetzner.resources.length);
    const found = (await evaluatePolicies([backupTargetSeparated], bare, { packEnforcementLevel: "mandatory" })).violations.map((v) => v.detail);
    expect(found.length).toBeGreaterThan(0);
    for (const detail of found)
      expect(detail).toMatch(/: replica \S+ runs in no container this policy pack can read .*: where its backups go is not checked\. Fix: /);
  });
});

describe("sp-422 on what the local stack deploys", () => {
  // The recorded Docker resources, changed the way a target could get them wrong.
  const sp422 = async (change: (r: RecordedResource) => RecordedResource) =>
    (await evaluatePolicies([backupTargetSeparated], local.resources.map(change), { packEnforcementLevel: "mandatory" })).violations.map((v) => v.detail);
  const isMail = (r: RecordedResource) => r.type === "docker:index/container:Container" && (r.inputs.envs as string[]).includes("SP_REPLICA=mail-0");
  const edit = (match: (r: RecordedResource) => boolean, props: (p: Record<string, any>) => Record<string, any>) => (r: RecordedResource) =>
    match(r) ? { ...r, inputs: props(structuredClone(r.inputs)), outputs: props(structuredClone(r.outputs)) } : r;
  const mailBackupVolume = (r: RecordedResource) => r.type === "docker:index/volume:Volume" && r.inputs.name === "fra1-mail-0-backup";

  it("passes as deployed: every stateful replica writes to a volume of its own and ships its copies to its declared target's store", async () => {
    expect(local.resources.filter(mailBackupVolume)).toHaveLength(1);
    expect(await sp422((r) => r)).toEqual([]);
  });

  it("fails a container without SP_BACKUP_DIR: its backups would land on the data volume", async () => {
    const found = await sp422(edit(isMail, (p) => ({ ...p, envs: (p.envs as string[]).filter((e) => !e.startsWith("SP_BACKUP_DIR=")) })));
    expect(found).toEqual([
      expect.stringMatching(
        /^serverpark:datacenter\.services\[3\] \(mail\): replica mail-0 \(Container "fra1-mail-0" \(replica mail-0 of service mail\)\) is started without SP_BACKUP_DIR, so mail writes its backups into its data directory \/var\/lib\/serverpark\/mail: onto the data volume they protect, not to its backup target h7\. Fix: /,
      ),
    ]);
  });

  it("fails SP_BACKUP_DIR inside the data directory, or on no volume of its own", async () => {
    const inData = await sp422(
      edit(isMail, (p) => ({
        ...p,
        envs: (p.envs as string[]).map((e) => (e.startsWith("SP_BACKUP_DIR=") ? "SP_BACKUP_DIR=/var/lib/serverpark/mail/backups" : e)),
      })),
    );
    expect(inData).toEqual([
      expect.stringMatching(/mail-0 .* writes its backups to SP_BACKUP_DIR=\/var\/lib\/serverpark\/mail\/backups, inside its data directory/),
    ]);
    const unmounted = await sp422(
      edit(isMail, (p) => ({ ...p, volumes: (p.volumes as { containerPath: string }[]).filter((v) => !v.containerPath.endsWith("/backup")) })),
    );
    expect(unmounted).toEqual([expect.stringMatching(/mail-0 .* which is no volume of its own: they stay in the container's filesystem/)]);
  });

  const agentOf = (host: string) => (r: RecordedResource) =>
    r.type === "docker:index/container:Container" && (r.inputs.envs as string[]).includes(`SP_HOST_ID=${host}`);
  const envOf = (r: RecordedResource, name: string) => (r.inputs.envs as string[]).find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
  const setEnv = (name: string, value: string | undefined) => (p: Record<string, any>) => ({
    ...p,
    envs: [...(p.envs as string[]).filter((e) => !e.startsWith(`${name}=`)), ...(value === undefined ? [] : [`${name}=${value}`])],
  });

  it("judges each data node of the db group on its own; the monitor holds no data and takes no backups", async () => {
    const spec = loadStackFile("local").config["serverpark:datacenter"] as { services: { id: string; backup?: { targetHost?: string } }[] };
    const target = spec.services.find((s) => s.id === "db")!.backup!.targetHost!;
    const isReplica = (id: string) => (r: RecordedResource) =>
      r.type === "docker:index/container:Container" && (r.inputs.envs as string[]).includes(`SP_REPLICA=${id}`);
    for (const id of ["db-0", "db-1"]) expect(envOf(local.resources.find(isReplica(id))!, "SP_BACKUP_STORE_HOST"), id).toBe(target);
    const monitor = local.resources.find(isReplica("db-monitor"))!;
    expect((monitor.inputs.envs as string[]).filter((e) => e.startsWith("SP_BACKUP_"))).toEqual([]);
    // db-1, not only db-0, must ship its copies off its host.
    expect(await sp422(edit(isReplica("db-1"), setEnv("SP_BACKUP_STORE_URL", undefined)))).toEqual([
      expect.stringMatching(new RegExp(`\\(db\\): replica db-1 .* keeps its backups on its own host h6 only: .* not to its backup target ${target}\\. Fix: `)),
    ]);
  });

  it("fails a replica that ships no copy off its host, or ships it to another host than the declared target", async () => {
    expect(await sp422(edit(isMail, setEnv("SP_BACKUP_STORE_URL", undefined)))).toEqual([
      expect.stringMatching(
        /\(mail\): replica mail-0 .* keeps its backups on its own host h2 only: it is started without SP_BACKUP_STORE_URL, so no copy leaves the host, not to its backup target h7\. Fix: /,
      ),
    ]);
    const h6 = envOf(local.resources.find(agentOf("h6"))!, "SP_MGMT_ADDRESS");
    expect(h6).toMatch(/^10\./);
    expect(
      await sp422((r) => edit(isMail, setEnv("SP_BACKUP_STORE_HOST", "h6"))(edit(isMail, setEnv("SP_BACKUP_STORE_URL", `https://${h6}:9100`))(r))),
    ).toEqual([
      expect.stringMatching(
        /\(mail\): replica mail-0 .* sends its backups to host h6, but backup.targetHost is h7\. Fix: ship them to the backup store of h7's agent/,
      ),
    ]);
    const h2 = envOf(local.resources.find(agentOf("h2"))!, "SP_MGMT_ADDRESS");
    expect(await sp422(edit(isMail, setEnv("SP_BACKUP_STORE_URL", `https://${h2}:9100`)))).toEqual([
      expect.stringMatching(/\(mail\): replica mail-0 .* keeps its backups on its own host h2 only: SP_BACKUP_STORE_URL=\S+ is its own host's agent/),
    ]);
  });

  it("fails a replica without its backup client certificate, and a target whose agent keeps no store for the service", async () => {
    // The uploads are a secret on the wire ({ [SECRET_SIG]: …, value }): drop the files inside it.
    const withoutClientFiles = (uploads: any): any =>
      Array.isArray(uploads)
        ? uploads.filter((u: { file: string }) => !u.file.startsWith("/etc/serverpark/backup-client/"))
        : { ...uploads, value: withoutClientFiles(uploads.value) };
    const noCert = await sp422(edit(isMail, (p) => ({ ...p, uploads: withoutClientFiles(p.uploads) })));
    expect(noCert).toEqual([
      expect.stringMatching(/\(mail\): replica mail-0 .* has no backup client certificate \(\/etc\/serverpark\/backup-client\/tls\.crt\)/),
    ]);
    const h7 = local.resources.find(agentOf("h7"))!;
    const clients = JSON.parse(envOf(h7, "SP_BACKUP_CLIENTS")!) as { service: string }[];
    expect(clients.map((c) => c.service)).toContain("mail");
    const withoutMail = JSON.stringify(clients.filter((c) => c.service !== "mail"));
    expect(await sp422(edit(agentOf("h7"), setEnv("SP_BACKUP_CLIENTS", withoutMail)))).toEqual([
      expect.stringMatching(/\(mail\): replica mail-0 .* ships its backups to h7, whose agent \(.*\) keeps no store for service mail \(SP_BACKUP_CLIENTS\)/),
    ]);
    expect(
      await sp422(
        edit(agentOf("h7"), (p) => ({
          ...p,
          volumes: (p.volumes as { containerPath: string }[]).filter((v) => v.containerPath !== "/var/lib/serverpark/backup-store"),
        })),
      ),
    ).toEqual([expect.stringMatching(/\(mail\): replica mail-0 .* whose agent \(.*\) has no volume of its own at \/var\/lib\/serverpark\/backup-store/)]);
  });

  it("accepts local copies on a path of the machine that runs the replica (as on Hetzner) only while every copy is shipped off it", async () => {
    const bind = edit(isMail, (p) => ({
      ...p,
      volumes: (p.volumes as { containerPath: string; volumeName?: string }[]).map((v) =>
        v.containerPath.endsWith("/backup") ? { containerPath: v.containerPath, hostPath: "/srv/backups/mail-0" } : v,
      ),
    }));
    expect(await sp422(bind)).toEqual([]);
    expect(await sp422((r) => edit(isMail, setEnv("SP_BACKUP_STORE_URL", undefined))(bind(r)))).toEqual([
      expect.stringMatching(/mail-0 .* keeps its backups on its own host h2 only: it is started without SP_BACKUP_STORE_URL/),
    ]);
  });
});
