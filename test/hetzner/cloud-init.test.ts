/**
 * Cloud-init rendering: a reviewed snapshot for a small host, determinism, and the properties
 * every rendering must have (valid YAML, the hardening flags, exact published addresses).
 */
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { cloudInitSchema, hasTool, shellcheck } from "./tools";
import { HEALTH_CHECK } from "../../components/model/launch";
import { fileSlug, renderCloudInit, systemdArg, type CloudInitInput } from "../../components/targets/hetzner/cloudInit";

const INPUT: CloudInitInput = {
  datacenter: "fsn",
  domain: "fsn.park.example",
  host: "h2",
  networks: [
    { id: "public", primary: "10.42.0.10", aliases: ["10.42.0.14"] },
    { id: "private", primary: "10.42.1.12", aliases: ["10.42.1.16"] },
    { id: "mgmt", primary: "10.42.2.11", aliases: ["10.42.2.19", "10.42.2.23"] },
  ],
  registry: { server: "registry.example.com", username: "deploy", password: "not-a-real-password" },
  containers: [
    {
      id: "mail-0",
      image: "registry.example.com/serverpark/mail:0.1.0-0123456789ab",
      hostname: "mail-0",
      domain: "fsn.park.example",
      env: { SP_ROLE: "mail", SP_REPLICA: "mail-0", SP_MGMT_PORT: "9100", SP_BACKUP_DIR: "/var/lib/serverpark/backup" },
      ports: [
        { address: "10.42.0.14", port: 25, protocol: "tcp" },
        { address: "10.42.2.23", port: 9100, protocol: "tcp" },
        { address: "public", port: 25, protocol: "tcp" },
      ],
      files: [
        { path: "/etc/serverpark/config.json", content: '{"replica":"mail-0"}', mode: 0o444 },
        { path: "/etc/serverpark/tls/tls.key", content: "-----BEGIN PRIVATE KEY-----\nfixture\n-----END PRIVATE KEY-----\n", mode: 0o400 },
      ],
      cpus: 2,
      memoryGb: 1,
      health: HEALTH_CHECK,
      resolvers: ["10.42.1.14", "10.42.1.15"],
      volume: { containerPath: "/var/lib/serverpark/mail" },
      backup: { containerPath: "/var/lib/serverpark/backup" },
    },
    {
      id: "host-agent",
      image: "registry.example.com/serverpark/host-agent:0.1.0-0123456789ab",
      hostname: "host-h2",
      env: { SP_HOST_ID: "h2", SP_MGMT_PORT: "9100" },
      ports: [{ address: "10.42.2.11", port: 9100, protocol: "tcp" }],
      files: [],
      cpus: 0.1,
      memoryGb: 0.125,
      health: HEALTH_CHECK,
      resolvers: [],
    },
  ],
  volumes: [{ replica: "mail-0", id: "4711" }],
};

function filesOf(text: string): Map<string, { content: string; permissions: string }> {
  const doc = parse(text);
  return new Map(
    doc.write_files.map((f: any) => [
      f.path,
      { permissions: f.permissions, content: f.encoding === "gz+b64" ? gunzipSync(Buffer.from(f.content, "base64")).toString() : f.content },
    ]),
  );
}

describe("renderCloudInit", () => {
  it("matches the reviewed snapshot", async () => {
    await expect(renderCloudInit(INPUT)).toMatchFileSnapshot("__snapshots__/h2.cloud-init.yaml");
  });

  it("is deterministic: same input, same bytes, whatever the order of containers", () => {
    const reordered = { ...INPUT, containers: [...INPUT.containers].reverse() };
    expect(renderCloudInit(reordered)).toBe(renderCloudInit(INPUT));
    expect(renderCloudInit(structuredClone(INPUT))).toBe(renderCloudInit(INPUT));
  });

  it("is a #cloud-config document whose files decode to their contents", () => {
    const text = renderCloudInit(INPUT);
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const files = filesOf(text);
    expect(files.get("/etc/serverpark/registry-password")).toEqual({ content: "not-a-real-password", permissions: "0600" });
    expect(files.get(`/etc/serverpark/containers/mail-0/files/${fileSlug("/etc/serverpark/tls/tls.key")}`)!.permissions).toBe("0400");
    expect(files.get("/etc/serverpark/containers/mail-0/files/etc_serverpark_config.json")!.content).toBe('{"replica":"mail-0"}');
    expect(JSON.parse(files.get("/etc/docker/daemon.json")!.content)).toMatchObject({ "userland-proxy": false });
  });

  it("publishes each port on exactly its address, the public one through the metadata-derived variable", () => {
    const unit = filesOf(renderCloudInit(INPUT)).get("/etc/systemd/system/serverpark-mail-0.service")!.content;
    const published = [...unit.matchAll(/--publish (\S+)/g)].map((m) => m[1]);
    expect(published).toEqual(["10.42.0.14:25:25/tcp", "${SP_PUBLIC_IPV4}:25:25/tcp", "10.42.2.23:9100:9100/tcp"]);
    expect(unit).not.toMatch(/--publish (0\.0\.0\.0:)?\d+:/);
    expect(unit).toContain("RequiresMountsFor=/srv/serverpark/volumes/mail-0");
    expect(unit).toContain("--dns 10.42.1.14");
    // Backups on the server's own disk, apart from the data volume.
    expect(unit).toContain("--volume /srv/serverpark/backups/mail-0:/var/lib/serverpark/backup");
    expect(unit).toContain("ExecStartPre=/bin/chown 1000:1000 /srv/serverpark/backups/mail-0");
    const agent = filesOf(renderCloudInit(INPUT)).get("/etc/systemd/system/serverpark-host-agent.service")!.content;
    expect(agent).not.toContain("--dns");
  });

  it("puts every alias address on the interface of its network", () => {
    const script = filesOf(renderCloudInit(INPUT)).get("/usr/local/sbin/serverpark-network")!.content;
    expect(script).toContain("alias_on 10.42.0.10 10.42.0.14 # public");
    expect(script).toContain("alias_on 10.42.2.11 10.42.2.19 10.42.2.23 # mgmt");
  });

  it("enables the network unit and every container unit", () => {
    const doc = parse(renderCloudInit(INPUT));
    const enable = doc.runcmd.find((c: string[]) => c[0] === "systemctl" && c[1] === "enable");
    expect(enable).toEqual(["systemctl", "enable", "--now", "serverpark-network.service", "serverpark-host-agent.service", "serverpark-mail-0.service"]);
  });

  it.each([
    ["plain", "--cap-drop", "--cap-drop"],
    ["a systemd specifier", "max=50%", "max=50%%"],
    ["a stray dollar", "pa$word", "pa$$word"],
    ["the public address variable", "${SP_PUBLIC_IPV4}:53:53/udp", "${SP_PUBLIC_IPV4}:53:53/udp"],
    ["spaces", "node /app/healthcheck.mjs", '"node /app/healthcheck.mjs"'],
    ["quotes", 'say "hi"', '"say \\"hi\\""'],
  ])("escapes %s for systemd", (_what, arg, expected) => {
    expect(systemdArg(arg)).toBe(expected);
  });

  it.runIf(hasTool("cloud-init"))("passes cloud-init's own schema validation", () => {
    const result = cloudInitSchema(renderCloudInit(INPUT));
    expect(result.ok, result.output).toBe(true);
    // …which does catch a broken document:
    expect(cloudInitSchema(renderCloudInit(INPUT).replace("package_update: true", "package_update: sometimes")).ok).toBe(false);
  });

  it.runIf(hasTool("shellcheck"))("renders a network script shellcheck finds nothing in", () => {
    const script = filesOf(renderCloudInit(INPUT)).get("/usr/local/sbin/serverpark-network")!.content;
    expect(shellcheck(script)).toBe("");
    expect(shellcheck("#!/bin/sh\nrm -rf $dir/*\n")).not.toBe("");
  });
});
