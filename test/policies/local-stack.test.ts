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
    const ours = await evaluatePolicies(POLICIES, local.resources, { packEnforcementLevel: "mandatory" });
    const theirs = await crossGuard(POLICIES, local.resources);
    const key = (d: { policy: string; message: string; urn?: string; level: string }) => `${d.level} ${d.policy} ${d.urn ?? ""} ${d.message}`;
    expect(ours.violations.map((v) => key({ ...v, level: v.enforcementLevel })).sort()).toEqual(theirs.map(key).sort());
    expect(theirs.length).toBeGreaterThan(0);
  });
});

describe("the hetzner stack", () => {
  it("keeps a Pulumi secret marked in the recorded inputs", () => {
    const json = JSON.stringify(hetzner.resources.map((r) => r.inputs));
    expect(json).toContain(SECRET_SIG);
    expect(json).not.toMatch(/registryPassword[^,]*bm90LXJlYWxseS/);
  });

  it("passes every mandatory policy but sp-422, data residency included", () => {
    const mandatory = hetzner.evaluation.violations.filter((v) => v.enforcementLevel === "mandatory");
    expect(mandatory.filter((v) => v.policy !== "sp-422-backup-target-separated").map((v) => `${v.policy}: ${v.detail}`)).toEqual([]);
    const residency = hetzner.evaluation.outcomes.find((o) => o.policy === "sp-501-data-residency")!;
    expect([residency.checked, residency.violations.length]).toEqual([1, 0]);
    // The containers cloud-init starts are judged too (on servers whose userData is known).
    expect(hetzner.evaluation.outcomes.find((o) => o.policy === "sp-201-no-privileged-container")!.checked).toBeGreaterThan(0);
  });

  it("fails sp-422: every stateful replica's backups stay on its own server, whatever backup.targetHost says", () => {
    // What the Hetzner target deploys today: SP_BACKUP_DIR on a directory of the server's own
    // disk (/srv/serverpark/backups/<replica>), apart from the data volume but on the same
    // host. Backups that leave the host (issue 17 item 2) are what makes this pass.
    const found = hetzner.evaluation.violations.filter((v) => v.policy === "sp-422-backup-target-separated");
    const spec = loadStackFile("hetzner").config["serverpark:datacenter"] as { services: { role: string; replicas: number; backup?: unknown }[] };
    const expected = spec.services.filter((s) => ["mail", "file", "db"].includes(s.role) && s.backup).reduce((n, s) => n + s.replicas, 0);
    expect(expected).toBeGreaterThan(0);
    expect(found.map((v) => v.enforcementLevel)).toEqual(Array.from({ length: expected }, () => "mandatory"));
    for (const v of found)
      expect(v.detail).toMatch(
        /^serverpark:datacenter\.services\[\d\] \(\w+\): replica (\S+) \(Unit serverpark-\1 copied by "[^"]+"\) writes its backups to \/srv\/serverpark\/backups\/\1 on the disk of h\d, the host that runs it, not to its backup target h\d\. Fix: /,
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
  const relabel = (host: string) => (p: Record<string, any>) => ({
    ...p,
    labels: (p.labels as { label: string; value: string }[]).map((l) => (l.label === "serverpark.host" ? { ...l, value: host } : l)),
  });

  it("passes as deployed: every stateful replica writes to a volume of its own, kept by its declared target", async () => {
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

  it("fails a backup volume kept by the replica's own host, or by another host than the declared target", async () => {
    expect(await sp422(edit(mailBackupVolume, relabel("h2")))).toEqual([
      expect.stringMatching(/\(mail\): replica mail-0 .* keeps its backups on its own host h2\. Fix: /),
    ]);
    expect(await sp422(edit(mailBackupVolume, relabel("h6")))).toEqual([
      expect.stringMatching(/\(mail\): replica mail-0 .* sends its backups to host h6, but backup.targetHost is h7\. Fix: deploy the backup volume on h7/),
    ]);
  });

  it("fails backups written to a path of the machine that runs the replica (a bind mount)", async () => {
    const bind = await sp422(
      edit(isMail, (p) => ({
        ...p,
        volumes: (p.volumes as { containerPath: string; volumeName?: string }[]).map((v) =>
          v.containerPath.endsWith("/backup") ? { containerPath: v.containerPath, hostPath: "/srv/backups/mail-0" } : v,
        ),
      })),
    );
    expect(bind).toEqual([
      expect.stringMatching(/mail-0 .* writes its backups to \/srv\/backups\/mail-0 on the disk of h2, the host that runs it, not to its backup target h7/),
    ]);
  });
});
