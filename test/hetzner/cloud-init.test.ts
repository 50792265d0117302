/**
 * The user data of a Hetzner server: bootstrap only (Docker, root's deployment directory, the
 * deployment's SSH public key), the same bytes for every server, valid for cloud-init itself.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { cloudInitSchema, hasTool, shellcheck } from "./tools";
import { egressScript } from "../../components/targets/hetzner/egress";
import { DEPLOY_KEY_COMMENT, renderCloudInit } from "../../components/targets/hetzner/cloudInit";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICneG92XEu9MMutfGWfxk6Qti0a6kb2YAEHHHlpBJGSm";

describe("renderCloudInit", () => {
  it("matches the reviewed snapshot", async () => {
    await expect(renderCloudInit({ deployPublicKey: `${KEY} generated\n` })).toMatchFileSnapshot("__snapshots__/user-data.yaml");
  });

  it("installs Docker and authorizes the deploy key for root, appended to the operators' keys", () => {
    const doc = parse(renderCloudInit({ deployPublicKey: KEY }));
    expect(doc.packages).toEqual(["curl", "docker.io"]);
    const keys = doc.write_files.find((f: any) => f.path === "/root/.ssh/authorized_keys");
    expect(keys).toMatchObject({ append: true, permissions: "0600", content: `${KEY} ${DEPLOY_KEY_COMMENT}\n` });
    expect(JSON.parse(doc.write_files.find((f: any) => f.path === "/etc/docker/daemon.json").content)).toMatchObject({ "userland-proxy": false });
    expect(doc.runcmd).toEqual([
      ["install", "-d", "-m", "0700", "-o", "root", "-g", "root", "/etc/serverpark", "/etc/serverpark/containers"],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "serverpark-egress.service"],
    ]);
  });

  it("carries no container, address, volume or private key: those come over SSH", () => {
    const text = renderCloudInit({ deployPublicKey: KEY });
    for (const absent of ["serverpark-network", "docker run", "docker login", "/srv/serverpark", "PRIVATE KEY", "10.42."]) expect(text).not.toContain(absent);
  });

  it("installs the egress rules and a unit that applies them at every boot, after Docker", () => {
    const files = new Map<string, string>(parse(renderCloudInit({ deployPublicKey: KEY })).write_files.map((f: any) => [f.path, f.content]));
    expect(files.get("/usr/local/sbin/serverpark-egress")).toBe(egressScript());
    expect(files.get("/etc/systemd/system/serverpark-egress.service")).toContain("ExecStart=/usr/local/sbin/serverpark-egress\n");
    expect(files.get("/etc/systemd/system/serverpark-egress.service")).toContain("After=docker.service\n");
  });

  it.runIf(hasTool("shellcheck"))("renders an egress script shellcheck finds nothing in", () => {
    expect(shellcheck(egressScript())).toBe("");
  });

  it("refuses anything but an OpenSSH public key (a private key included)", () => {
    expect(() => renderCloudInit({ deployPublicKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n" })).toThrow(
      /not an OpenSSH public key/,
    );
    expect(() => renderCloudInit({ deployPublicKey: "" })).toThrow(/not an OpenSSH public key/);
  });

  it.runIf(hasTool("cloud-init"))("passes cloud-init's own schema validation", () => {
    const text = renderCloudInit({ deployPublicKey: KEY });
    const result = cloudInitSchema(text);
    expect(result.ok, result.output).toBe(true);
    // …which does catch a broken document:
    expect(cloudInitSchema(text.replace("package_update: true", "package_update: sometimes")).ok).toBe(false);
  });
});
