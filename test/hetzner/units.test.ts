/**
 * What the deployment copies to a Hetzner server: a container's systemd unit (reviewed
 * snapshot, exact publish addresses, systemd escaping, environment in the unit) and the
 * network script (alias addresses per interface, shellcheck-clean).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { removeOthers } from "../../components/targets/hetzner/deploy";
import { hasTool, shellcheck } from "./tools";
import { HEALTH_CHECK } from "../../components/model/launch";
import { networkScript, renderUnit, systemdArg, volumeFstabLine, type ServerContainer } from "../../components/targets/hetzner/units";
import { splitCommandLine } from "../../policies/lib/containers";

const MAIL: ServerContainer = {
  id: "mail-0",
  image: "registry.example.com/serverpark/mail:0.1.0-0123456789ab",
  hostname: "mail-0",
  domain: "fsn.park.example",
  env: { SP_ROLE: "mail", SP_REPLICA: "mail-0", SP_MGMT_PORT: "9100", SP_BACKUP_DIR: "/var/lib/serverpark/backup", SP_PSUS: '[{"feed":"A"}]' },
  ports: [
    { address: "10.42.0.14", port: 25, protocol: "tcp" },
    { address: "10.42.2.23", port: 9100, protocol: "tcp" },
    { address: "public", port: 25, protocol: "tcp" },
  ],
  files: [
    { path: "/etc/serverpark/tls/tls.key", mode: 0o400 },
    { path: "/etc/serverpark/config.json", mode: 0o444 },
  ],
  cpus: 2,
  memoryGb: 1,
  health: HEALTH_CHECK,
  resolvers: ["10.42.1.14", "10.42.1.15"],
  volume: { containerPath: "/var/lib/serverpark/mail" },
  backup: { containerPath: "/var/lib/serverpark/backup" },
  internet: true,
};

const unit = renderUnit("fsn", "fsn.park.example", "h2", MAIL);
const execStart = () => splitCommandLine(/^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit)![1]!);

describe("renderUnit", () => {
  it("matches the reviewed snapshot", async () => {
    await expect(unit).toMatchFileSnapshot("__snapshots__/mail-0.service");
  });

  it("is deterministic: the same container in any order of files, ports and env gives the same bytes", () => {
    const shuffled = {
      ...MAIL,
      files: [...MAIL.files].reverse(),
      ports: [...MAIL.ports].reverse(),
      env: Object.fromEntries(Object.entries(MAIL.env).reverse()),
    };
    expect(renderUnit("fsn", "fsn.park.example", "h2", shuffled)).toBe(unit);
  });

  it("publishes each port on exactly its address, the public one through the metadata-derived variable", () => {
    const published = [...unit.matchAll(/--publish (\S+)/g)].map((m) => m[1]);
    expect(published).toEqual(["10.42.0.14:25:25/tcp", "${SP_PUBLIC_IPV4}:25:25/tcp", "10.42.2.23:9100:9100/tcp"]);
    expect(unit).not.toMatch(/--publish (0\.0\.0\.0:)?\d+:/);
    expect(unit).toContain("RequiresMountsFor=/srv/serverpark/volumes/mail-0");
    expect(unit).toContain("--dns 10.42.1.14");
    // Backups on the server's own disk, apart from the data volume.
    expect(unit).toContain("--volume /srv/serverpark/backups/mail-0:/var/lib/serverpark/backup");
    expect(unit).toContain("ExecStartPre=/bin/chown 1000:1000 /srv/serverpark/backups/mail-0");
    const agent = renderUnit("fsn", "fsn.park.example", "h2", { ...MAIL, id: "host-agent", resolvers: [] });
    expect(agent).not.toContain("--dns");
  });

  it("runs a container on the egress network only when it may reach the internet, after the egress rules", () => {
    expect(execStart()).toEqual(expect.arrayContaining(["--network", "sp-egress"]));
    const closed = renderUnit("fsn", "fsn.park.example", "h2", { ...MAIL, internet: false });
    expect(closed).toContain("--network sp-closed \\\n");
    expect(closed).toContain("Requires=docker.service serverpark-network.service serverpark-egress.service\n");
  });

  it("passes the environment in the unit, each value exactly as systemd will hand it to docker", () => {
    const argv = execStart();
    const env = argv.flatMap((a, i) => (argv[i - 1] === "--env" ? [a] : []));
    expect(env).toEqual(
      Object.keys(MAIL.env)
        .sort()
        .map((k) => `${k}=${MAIL.env[k]}`),
    );
  });

  it("mounts every file read-only from the container's directory", () => {
    const argv = execStart();
    const volumes = argv.flatMap((a, i) => (argv[i - 1] === "--volume" ? [a] : []));
    expect(volumes).toEqual([
      "/etc/serverpark/containers/mail-0/files/etc_serverpark_config.json:/etc/serverpark/config.json:ro",
      "/etc/serverpark/containers/mail-0/files/etc_serverpark_tls_tls.key:/etc/serverpark/tls/tls.key:ro",
      "/srv/serverpark/volumes/mail-0:/var/lib/serverpark/mail",
      "/srv/serverpark/backups/mail-0:/var/lib/serverpark/backup",
    ]);
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
});

describe("networkScript", () => {
  const script = networkScript([
    { id: "public", primary: "10.42.0.10", aliases: ["10.42.0.14"] },
    { id: "mgmt", primary: "10.42.2.11", aliases: ["10.42.2.19", "10.42.2.23"] },
  ]);

  it("puts every alias address on the interface of its network", () => {
    expect(script).toContain("alias_on 10.42.0.10 10.42.0.14 # public");
    expect(script).toContain("alias_on 10.42.2.11 10.42.2.19 10.42.2.23 # mgmt");
  });

  it.runIf(hasTool("shellcheck"))("is a script shellcheck finds nothing in", () => {
    expect(shellcheck(script)).toBe("");
    expect(shellcheck("#!/bin/sh\nrm -rf $dir/*\n")).not.toBe("");
  });
});

it("removes the files a container's launch no longer lists, and only those (run with the real find)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sp-hetzner-files-"));
  for (const name of ["etc_serverpark_config.json", "etc_serverpark_tls_tls.key", "etc_serverpark_views_0123abcd.json"]) writeFileSync(join(dir, name), "x");
  execFileSync("sh", ["-c", removeOthers(dir, ["etc_serverpark_config.json", "etc_serverpark_tls_tls.key"])]);
  expect(readdirSync(dir).sort()).toEqual(["etc_serverpark_config.json", "etc_serverpark_tls_tls.key"]);
  execFileSync("sh", ["-c", removeOthers(dir, [])]);
  expect(readdirSync(dir)).toEqual([]);
});

it("mounts a volume by its Hetzner id, waiting for the attachment without blocking the boot", () => {
  expect(volumeFstabLine("mail-0", "4711")).toBe(
    "/dev/disk/by-id/scsi-0HC_Volume_4711 /srv/serverpark/volumes/mail-0 ext4 discard,nofail,x-systemd.device-timeout=10min 0 2",
  );
});
