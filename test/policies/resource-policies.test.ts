/**
 * Resource policies, each with passing and failing fixtures shaped as CrossGuard passes
 * resources (see support.ts). Messages must name the resource and the fix.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { gzipSync } from "node:zlib";
import { fromCloudInit, splitCommandLine } from "../../policies/lib/containers";
import { containerLimits } from "../../policies/rules/capacity";
import { protectStateful } from "../../policies/rules/change";
import { imageRefProblem, pinnedImages, resourceLabels, unpinnedBases } from "../../policies/rules/configuration";
import { internalNetworksIsolated, localLoopbackOnly, publishedPortsAllowed } from "../../policies/rules/network";
import { healthChecks, logRotation } from "../../policies/rules/observability";
import { capabilitiesJustified, noDockerSocket, noHostNamespaces, noPrivilegedContainer, nonRootUser } from "../../policies/rules/privileged";
import { managementPlaneAuthenticated } from "../../policies/rules/management";
import { dataResidency } from "../../policies/rules/residency";
import { noDefaultPasswords, noSecretsInUserData } from "../../policies/rules/secrets";
import { container, messages, runPolicy, type FixtureResource } from "./support";

/** A text asset as the engine serializes it: Pulumi's signature key and the asset signature. */
const textAsset = (text: string) => ({ "4dabf18193072939515e22adb298388d": "c44067f5952c0a294b673a41bacd8c17", text });

const network = (exposure: string, internal: boolean): FixtureResource => ({
  type: "docker:index/network:Network",
  name: `fra1-net-${exposure}`,
  props: {
    name: `fra1-${exposure}`,
    internal,
    labels: [
      { label: "serverpark.datacenter", value: "fra1" },
      { label: "serverpark.exposure", value: exposure },
      { label: "serverpark.version", value: "0.1.0" },
    ],
  },
});

describe("A.5.15/A.8.2/A.8.5 the management plane", () => {
  const tlsFiles = ["/etc/serverpark/tls/tls.crt", "/etc/serverpark/tls/tls.key", "/etc/serverpark/tls/ca.crt"].map((file) => ({ file, content: "x" }));
  it("sp-206 passes a management port with its TLS files, fails one without, and fails plain HTTP asked for", async () => {
    expect(await messages(managementPlaneAuthenticated, [container("db", { envs: ["SP_MGMT_ADDRESS=10.42.2.9"], uploads: tlsFiles })])).toEqual([]);
    const [missing] = await messages(managementPlaneAuthenticated, [container("db", { envs: ["SP_MGMT_ADDRESS=10.42.2.9"], uploads: tlsFiles.slice(0, 1) })]);
    expect(missing).toMatch(/serves its management port on 10\.42\.2\.9 without \/etc\/serverpark\/tls\/tls\.key, \/etc\/serverpark\/tls\/ca\.crt/);
    expect(await messages(managementPlaneAuthenticated, [container("host-agent", { envs: ["SP_MGMT_INSECURE=true"] })])).toHaveLength(1);
    // A loopback management address (only the container itself reaches it) needs no TLS.
    expect(await messages(managementPlaneAuthenticated, [container("db", { envs: ["SP_MGMT_ADDRESS=127.0.0.2"] })])).toEqual([]);
  });

  it("sp-206 allows a management client certificate only in a management caller's container", async () => {
    const client = [
      { file: "/etc/serverpark/management-client/tls.crt", content: "x" },
      { file: "/etc/serverpark/management-client/tls.key", content: "x" },
    ];
    expect(await messages(managementPlaneAuthenticated, [container("noc", { uploads: client })])).toEqual([]);
    expect(await messages(managementPlaneAuthenticated, [container("proxy", { uploads: client })])).toEqual([
      expect.stringMatching(/role proxy\) holds a management client certificate/),
    ]);
  });

  it("sp-206 reads a Hetzner unit's --env-file and read-only file mounts", () => {
    const userData = `#cloud-config\n${stringify({
      write_files: [
        { path: "/etc/serverpark/containers/db-0/env", content: "SP_MGMT_ADDRESS=10.42.2.9\nSP_ROLE=db\n" },
        {
          path: "/etc/systemd/system/serverpark-db-0.service",
          content:
            "[Service]\nExecStart=/usr/bin/docker run --rm --env-file /etc/serverpark/containers/db-0/env --volume /etc/serverpark/containers/db-0/files/tls.crt:/etc/serverpark/tls/tls.crt:ro serverpark/db:1\n",
        },
      ],
    })}`;
    const [view] = fromCloudInit("s1", userData);
    expect(view!.env).toMatchObject({ SP_MGMT_ADDRESS: "10.42.2.9", SP_ROLE: "db" });
    expect(view!.files).toEqual(["/etc/serverpark/tls/tls.crt"]);
  });
});

describe("A.8.2 privileged access", () => {
  it("sp-201 fails a privileged container and passes the hardened one", async () => {
    expect(await messages(noPrivilegedContainer, [container("db")])).toEqual([]);
    const [msg] = await messages(noPrivilegedContainer, [container("db", { privileged: true })]);
    expect(msg).toMatch(/Container "fra1-db-0" \(replica db-0 of service db\) runs privileged.*Fix: remove `privileged`/);
  });

  it("sp-202 fails a Docker socket mount (volume or bind mount)", async () => {
    expect(await messages(noDockerSocket, [container("noc", { volumes: [{ volumeName: "data", containerPath: "/data" }] })])).toEqual([]);
    expect(
      await messages(noDockerSocket, [container("noc", { volumes: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }] })]),
    ).toHaveLength(1);
    expect(
      await messages(noDockerSocket, [container("noc", { mounts: [{ type: "bind", source: "/run/containerd/containerd.sock", target: "/x" }] })]),
    ).toHaveLength(1);
  });

  it("sp-203 fails host namespaces", async () => {
    expect(await messages(noHostNamespaces, [container("dns")])).toEqual([]);
    const msgs = await messages(noHostNamespaces, [container("dns", { networkMode: "host", pidMode: "host" })]);
    expect(msgs.map((m) => /\((\w+): host\)/.exec(m)?.[1])).toEqual(["networkMode", "pidMode"]);
  });

  it("sp-204 requires drops ALL and a justification for every added capability", async () => {
    expect(await messages(capabilitiesJustified, [container("proxy")])).toEqual([]);
    expect(await messages(capabilitiesJustified, [container("proxy", { capabilities: {} })])).toEqual([
      expect.stringMatching(/keeps Docker's default capabilities/),
    ]);
    const withCap = container("proxy", { capabilities: { drops: ["ALL"], adds: ["CAP_NET_ADMIN"] } });
    expect(await messages(capabilitiesJustified, [withCap])).toEqual([expect.stringMatching(/adds capability NET_ADMIN without a justification/)]);
    expect(await messages(capabilitiesJustified, [withCap], { config: { justified: { NET_ADMIN: "the proxy sets up traffic shaping" } } })).toEqual([]);
  });

  it("sp-205 fails root and unset users", async () => {
    expect(await messages(nonRootUser, [container("web")])).toEqual([]);
    expect(await messages(nonRootUser, [container("web", { user: "0:0" })])).toEqual([expect.stringMatching(/runs as root \(user "0:0"\)/)]);
    expect(await messages(nonRootUser, [container("web", { user: "root" })])).toHaveLength(1);
    expect(await messages(nonRootUser, [container("web", { user: undefined })])).toEqual([expect.stringMatching(/sets no user/)]);
  });

  it("container policies are not applicable to other resource types", async () => {
    const outcome = await runPolicy(noPrivilegedContainer, [network("internal", true)]);
    expect(outcome.checked).toBe(0);
    expect(outcome.notApplicable).toEqual(["starts no container (applies to Docker containers and the units the Hetzner deployment copies)"]);
  });
});

describe("A.8.5 secure authentication (resources)", () => {
  it("sp-212 fails default and empty passwords and credentials in environment variables", async () => {
    expect(await messages(noDefaultPasswords, [container("db", { envs: ["SP_ROLE=db", "PASSWORD_FILE=/run/secrets/db"] })])).toEqual([]);
    expect(await messages(noDefaultPasswords, [container("db", { envs: ["DB_PASSWORD=Zx9-long-generated"] })])).toEqual([
      expect.stringMatching(/passes the credential DB_PASSWORD in an environment variable/),
    ]);
    const upload = { file: "/etc/serverpark/config.json", content: JSON.stringify({ settings: { users: [{ name: "app", password: "changeme" }] } }) };
    expect(await messages(noDefaultPasswords, [container("db", { uploads: [upload] })])).toEqual([
      expect.stringMatching(/settings\.users\[0\]\.password to a well-known default password/),
    ]);
    expect(await messages(noDefaultPasswords, [{ type: "random:index/randomPassword:RandomPassword", props: { length: 24 } }])).toEqual([]);
    expect(
      await messages(noDefaultPasswords, [{ type: "docker:index/remoteImage:RemoteImage", props: { name: "x:1", registryAuth: { password: "" } } }]),
    ).toEqual([expect.stringMatching(/registryAuth\.password is empty/)]);
  });
});

describe("A.8.20 / A.8.22 networks", () => {
  it("sp-301 fails an internal or management network that is not internal", async () => {
    expect(await messages(internalNetworksIsolated, [network("internal", true), network("management", true), network("internet", false)])).toEqual([]);
    expect(await messages(internalNetworksIsolated, [network("management", false)])).toEqual([expect.stringMatching(/management network but not internal/)]);
  });

  it("sp-303 allows only the role's public ports", async () => {
    const proxyPorts = [{ internal: 443, external: 20001, ip: "127.0.0.1", protocol: "tcp" }];
    expect(await messages(publishedPortsAllowed, [container("proxy", { ports: proxyPorts })])).toEqual([]);
    expect(await messages(publishedPortsAllowed, [container("dns", { ports: [{ internal: 53, external: 20053, ip: "127.0.0.1", protocol: "udp" }] })])).toEqual(
      [],
    );
    expect(
      await messages(publishedPortsAllowed, [container("db", { ports: [{ internal: 5432, external: 25432, ip: "127.0.0.1", protocol: "tcp" }] })]),
    ).toEqual([expect.stringMatching(/publishes 5432\/tcp \(not a public port of role db\)/)]);
    expect(
      await messages(publishedPortsAllowed, [container("proxy", { ports: [{ internal: 9100, external: 29100, ip: "127.0.0.1", protocol: "tcp" }] })]),
    ).toEqual([expect.stringMatching(/the management port/)]);
  });

  it("sp-303 allows the file role's passive ports where the container's range moved them, and only there", async () => {
    const passive = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ internal: from + i, external: from + i, ip: "127.0.0.1", protocol: "tcp" }));
    const file = (range: string, ports: ReturnType<typeof passive>) => container("file", { envs: [`SP_FILE_FTP_PASSIVE_PORTS=${range}`], ports });
    expect(await messages(publishedPortsAllowed, [container("file", { ports: passive(30000, 10) })])).toEqual([]);
    expect(await messages(publishedPortsAllowed, [file("31020-31029", passive(31020, 10))])).toEqual([]);
    // Outside the range, or a range longer than the catalogue's ten ports, is refused.
    expect(await messages(publishedPortsAllowed, [file("31020-31029", passive(31030, 1))])).toEqual([expect.stringMatching(/publishes 31030\/tcp/)]);
    expect(await messages(publishedPortsAllowed, [file("31020-31030", passive(31020, 1))])).toEqual([expect.stringMatching(/publishes 31020\/tcp/)]);
    // Only the file role's variable moves them.
    expect(
      await messages(publishedPortsAllowed, [container("web", { envs: ["SP_FILE_FTP_PASSIVE_PORTS=31020-31029"], ports: passive(31020, 1) })]),
    ).toHaveLength(1);
  });

  it("sp-304 fails ports published beyond loopback", async () => {
    expect(await messages(localLoopbackOnly, [container("proxy", { ports: [{ internal: 443, external: 20001, ip: "127.0.0.1" }] })])).toEqual([]);
    expect(await messages(localLoopbackOnly, [container("proxy", { ports: [{ internal: 443, external: 20001, ip: "0.0.0.0" }] })])).toHaveLength(1);
    expect(await messages(localLoopbackOnly, [container("proxy", { ports: [{ internal: 443, external: 20001 }] })])).toEqual([
      expect.stringMatching(/every interface/),
    ]);
  });
});

describe("A.8.6 capacity (resources)", () => {
  it("sp-401 requires memory and CPU limits", async () => {
    expect(await messages(containerLimits, [container("game")])).toEqual([]);
    expect(await messages(containerLimits, [container("game", { cpus: "0.5", cpuQuota: undefined })])).toEqual([]);
    expect(await messages(containerLimits, [container("game", { memory: undefined, cpuQuota: undefined })])).toEqual([
      expect.stringMatching(/has no memory limit/),
      expect.stringMatching(/has no CPU limit/),
    ]);
  });
});

describe("A.8.9 configuration management", () => {
  it("judges image references", () => {
    expect(imageRefProblem("node:24-bookworm-slim")).toBeUndefined();
    expect(imageRefProblem(`node@sha256:${"a".repeat(64)}`)).toBeUndefined();
    expect(imageRefProblem("localhost:5000/node:24")).toBeUndefined();
    expect(imageRefProblem("node")).toMatch(/no tag/);
    expect(imageRefProblem("localhost:5000/node")).toMatch(/no tag/);
    expect(imageRefProblem("node:latest")).toMatch(/latest/);
  });

  it("finds unpinned FROM lines, resolving ARG defaults and skipping build stages", () => {
    expect(unpinnedBases("FROM node:24-bookworm-slim AS build\nFROM build\nFROM scratch")).toEqual([]);
    expect(unpinnedBases("ARG BASE=node:latest\nFROM ${BASE}")).toEqual(["FROM ${BASE} uses the tag latest"]);
    expect(unpinnedBases("FROM --platform=linux/amd64 debian")).toEqual(["FROM debian has no tag (means latest)"]);
  });

  it("sp-411 checks image tags, container image references and the Dockerfile's base", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp411-"));
    writeFileSync(join(dir, "Dockerfile.good"), "FROM node:24-bookworm-slim\n");
    writeFileSync(join(dir, "Dockerfile.bad"), "FROM node\n");
    const image = (tag: string, dockerfile: string): FixtureResource => ({
      type: "docker:index/image:Image",
      props: { imageName: `serverpark/db:${tag}`, skipPush: true, build: { context: dir, dockerfile: join(dir, dockerfile) } },
    });
    expect(await messages(pinnedImages, [image("0.1.0-abcdef123456", "Dockerfile.good"), container("db")])).toEqual([]);
    expect(await messages(pinnedImages, [image("latest", "Dockerfile.bad")])).toEqual([
      expect.stringMatching(/uses the tag latest/),
      expect.stringMatching(/FROM node has no tag/),
    ]);
    expect(await messages(pinnedImages, [container("db", { image: "serverpark/db" })])).toEqual([
      expect.stringMatching(/runs image serverpark\/db which has no tag/),
    ]);
    expect(await messages(pinnedImages, [image("1", "missing")])).toEqual([expect.stringMatching(/cannot be read/)]);
  });

  it("sp-412 requires datacenter, role and version labels", async () => {
    expect(await messages(resourceLabels, [container("db"), network("internal", true)])).toEqual([]);
    expect(await messages(resourceLabels, [container("db", { labels: [{ label: "serverpark.datacenter", value: "fra1" }] })])).toEqual([
      expect.stringMatching(/lacks the labels serverpark\.role, serverpark\.version/),
    ]);
    const server = {
      type: "hcloud:index/server:Server",
      props: { name: "fra1-h1", location: "fsn1", labels: { "serverpark/datacenter": "fra1", "serverpark/role": "host", "serverpark/version": "0.1.0" } },
    };
    expect(await messages(resourceLabels, [server])).toEqual([]);
  });
});

describe("A.8.15 / A.8.16 logging and health", () => {
  it("sp-431 requires log rotation", async () => {
    expect(await messages(logRotation, [container("mail"), container("mail", { logDriver: "journald", logOpts: undefined })])).toEqual([]);
    expect(await messages(logRotation, [container("mail", { logDriver: undefined, logOpts: undefined })])).toEqual([
      expect.stringMatching(/sets no logDriver/),
    ]);
    expect(await messages(logRotation, [container("mail", { logOpts: { "max-size": "10m" } })])).toEqual([expect.stringMatching(/without max-file/)]);
    expect(await messages(logRotation, [container("mail", { logDriver: "none" })])).toEqual([expect.stringMatching(/discards its logs/)]);
  });

  it("sp-432 requires a health check", async () => {
    expect(await messages(healthChecks, [container("file")])).toEqual([]);
    expect(await messages(healthChecks, [container("file", { healthcheck: undefined })])).toHaveLength(1);
    expect(await messages(healthChecks, [container("file", { healthcheck: { tests: ["NONE"] } })])).toHaveLength(1);
  });
});

describe("containers started by a Hetzner server's cloud-init", () => {
  const unit = (run: string) =>
    `[Unit]\nDescription=x\n\n[Service]\nExecStartPre=-/usr/bin/docker rm -f fsn-db-0\nExecStart=/usr/bin/docker run --rm --name fsn-db-0 \\\n  ${run} \\\n  registry.example.com/acme/db:0.1.0-abc\nExecStop=/usr/bin/docker stop fsn-db-0\n`;
  const server = (run: string): FixtureResource => ({
    type: "hcloud:index/server:Server",
    name: "fsn-host-h3",
    props: {
      name: "fsn-h3",
      location: "fsn1",
      userData: `#cloud-config\n${stringify({
        write_files: [
          { path: "/etc/systemd/system/serverpark-db-0.service", content: unit(run) },
          { path: "/etc/x", content: "y" },
        ],
      })}`,
    },
  });
  const hardened =
    '--user 1000:1000 --cap-drop ALL --cpu-period 100000 --cpu-quota 100000 --memory 512m --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 --health-cmd "node /app/healthcheck.mjs" --volume /srv/serverpark/volumes/db-0:/var/lib/serverpark/db';

  it("reads docker run arguments from systemd command lines", () => {
    expect(splitCommandLine('/usr/bin/docker run --health-cmd "node /app/h.mjs" \\\n  --publish $${SP_PUBLIC_IPV4}:443:443/tcp --env A=%%x img')).toEqual([
      "/usr/bin/docker",
      "run",
      "--health-cmd",
      "node /app/h.mjs",
      "--publish",
      "${SP_PUBLIC_IPV4}:443:443/tcp",
      "--env",
      "A=%x",
      "img",
    ]);
    const [view] = fromCloudInit(
      "fsn-h3",
      `#cloud-config\n${stringify({ write_files: [{ path: "/etc/systemd/system/serverpark-db-0.service", content: unit(hardened) }] })}`,
    );
    expect(view).toMatchObject({
      role: "db",
      user: "1000:1000",
      capDrop: ["ALL"],
      memoryLimited: true,
      cpuLimited: true,
      logDriver: "json-file",
      healthTests: ["CMD-SHELL", "node /app/healthcheck.mjs"],
    });
    expect(view!.hostMounts).toEqual(["/srv/serverpark/volumes/db-0"]);
  });

  it("judges them with the same policies as Docker containers", async () => {
    const good = server(hardened);
    for (const policy of [
      noPrivilegedContainer,
      noDockerSocket,
      noHostNamespaces,
      capabilitiesJustified,
      nonRootUser,
      containerLimits,
      logRotation,
      healthChecks,
      publishedPortsAllowed,
    ]) {
      expect(await messages(policy, [good]), policy.name).toEqual([]);
    }
    const bad = server(`--privileged --network host -v /var/run/docker.sock:/var/run/docker.sock --user root --publish 0.0.0.0:5432:5432/tcp`);
    expect(await messages(noPrivilegedContainer, [bad])).toEqual([expect.stringMatching(/^Server "fsn-h3" container of unit serverpark-db-0 runs privileged/)]);
    expect(await messages(noDockerSocket, [bad])).toHaveLength(1);
    expect(await messages(noHostNamespaces, [bad])).toEqual([expect.stringMatching(/networkMode: host/)]);
    expect(await messages(nonRootUser, [bad])).toHaveLength(1);
    expect(await messages(containerLimits, [bad])).toHaveLength(2);
    expect(await messages(logRotation, [bad])).toHaveLength(1);
    expect(await messages(healthChecks, [bad])).toHaveLength(1);
    expect(await messages(publishedPortsAllowed, [bad])).toEqual([expect.stringMatching(/publishes 5432\/tcp \(not a public port of role db\)/)]);
    expect((await runPolicy(localLoopbackOnly, [bad])).checked).toBe(0);
  });

  // The Hetzner deployment copies each unit over SSH (components/targets/hetzner/deploy.ts): a text asset as the engine serializes it.
  const copied = (run: string, remotePath = "/etc/systemd/system/serverpark-db-0.service"): FixtureResource => ({
    type: "command:remote:CopyToRemote",
    name: "fsn-svc-db-0-unit",
    props: { remotePath, source: textAsset(unit(run)) },
  });

  it("judges the units the deployment copies the same way", async () => {
    for (const policy of [noPrivilegedContainer, nonRootUser, containerLimits, logRotation, healthChecks, publishedPortsAllowed]) {
      expect(await messages(policy, [copied(hardened)]), policy.name).toEqual([]);
    }
    expect(await messages(noPrivilegedContainer, [copied("--privileged --user 1000:1000")])).toEqual([
      expect.stringMatching(/^Unit serverpark-db-0 copied by "fsn-svc-db-0-unit" runs privileged/),
    ]);
    // Any other copied file starts no container.
    expect((await runPolicy(noPrivilegedContainer, [copied("--privileged", "/etc/serverpark/containers/db-0/files/x")])).checked).toBe(0);
  });
});

describe("A.5.17/A.8.5 no secrets in a Hetzner server's user data", () => {
  const server = (userData: string): FixtureResource => ({ type: "hcloud:index/server:Server", name: "fsn-host-h3", props: { name: "fsn-h3", userData } });
  const cloudConfig = (doc: Record<string, unknown>) => `#cloud-config\n${stringify(doc)}`;
  const gz = (text: string) => gzipSync(Buffer.from(text)).toString("base64");
  const KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

  it("sp-213 passes bootstrap-only user data: packages and the deployment's public key", async () => {
    const bootstrap = cloudConfig({
      packages: ["docker.io"],
      write_files: [
        { path: "/etc/docker/daemon.json", content: '{"live-restore": true}' },
        { path: "/root/.ssh/authorized_keys", append: true, content: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC serverpark-deploy\n" },
      ],
      runcmd: [["install", "-d", "-m", "0700", "/etc/serverpark"]],
    });
    const outcome = await runPolicy(noSecretsInUserData, [server(bootstrap)]);
    expect(outcome.violations).toEqual([]);
    expect(outcome.checked).toBe(1);
  });

  it("sp-213 fails a private key, a password file and a credential in JSON, plain or gzip+base64", async () => {
    const leaky = cloudConfig({
      write_files: [
        { path: "/etc/serverpark/containers/db-0/files/etc_serverpark_tls_tls.key", encoding: "gz+b64", content: gz(KEY) },
        { path: "/etc/serverpark/registry-password", encoding: "gz+b64", content: gz("s3cr3t-registry-pass") },
        { path: "/etc/serverpark/containers/db-0/files/etc_serverpark_config.json", content: JSON.stringify({ settings: { adminPassword: "Zx9-long" } }) },
      ],
      runcmd: ["docker login --username deploy --password hunter2-long registry.example.com"],
    });
    const found = await messages(noSecretsInUserData, [server(leaky)]);
    expect(found).toEqual([
      expect.stringMatching(
        /^Server "fsn-h3".*carries a private key in \/etc\/serverpark\/containers\/db-0\/files\/etc_serverpark_tls_tls\.key\. .*Fix: deliver it after boot over SSH/,
      ),
      expect.stringMatching(/carries a credential file \/etc\/serverpark\/registry-password\./),
      expect.stringMatching(/carries settings\.adminPassword in \/etc\/serverpark\/containers\/db-0\/files\/etc_serverpark_config\.json\./),
      expect.stringMatching(/carries a password on a docker login command line\./),
    ]);
    // A shell script as user data, and cloud-init's own password settings.
    expect(await messages(noSecretsInUserData, [server(`#!/bin/sh\ncat > /root/k <<EOF\n${KEY}EOF\n`)])).toEqual([
      expect.stringMatching(/carries a private key\./),
    ]);
    expect(await messages(noSecretsInUserData, [server(cloudConfig({ chpasswd: { users: [{ name: "root", password: "Zx9-long" }] } }))])).toHaveLength(1);
    // Names that only look like a credential's, and public keys, are not findings; a shadow file is.
    const named = (path: string) => messages(noSecretsInUserData, [server(cloudConfig({ write_files: [{ path, content: "x:1:2\n" }] }))]);
    for (const path of ["/etc/compass.conf", "/etc/passwd", "/root/.ssh/authorized_keys", "/etc/ssl/certs/ca.crt", "/etc/bypass-list"])
      expect(await named(path), path).toEqual([]);
    for (const path of ["/etc/shadow", "/run/secrets/db-password", "/etc/app/api_key", "/root/.ssh/id_ed25519", "/etc/ssl/private/site.key"]) {
      expect(await named(path), path).toEqual([expect.stringMatching(/carries a credential file/)]);
    }
    // --password-stdin reads the password from elsewhere.
    expect(await messages(noSecretsInUserData, [server(cloudConfig({ runcmd: ["docker login --password-stdin r.example.com < /dev/null"] }))])).toEqual([]);
  });

  it("sp-213 applies to Hetzner servers only", async () => {
    expect((await runPolicy(noSecretsInUserData, [container("db")])).checked).toBe(0);
  });
});

describe("A.5.23 data residency", () => {
  const server = (props: Record<string, unknown>): FixtureResource => ({
    type: "hcloud:index/server:Server",
    name: "fra1-h1",
    props: { name: "fra1-h1", serverType: "cx22", image: "debian-12", ...props },
  });

  it("sp-501 keeps Hetzner resources in Germany by default", async () => {
    expect(
      await messages(dataResidency, [
        server({ location: "fsn1" }),
        server({ datacenter: "nbg1-dc3" }),
        { type: "hcloud:index/volume:Volume", props: { location: "nbg1", size: 10 } },
      ]),
    ).toEqual([]);
    expect(await messages(dataResidency, [server({ location: "hel1" })])).toEqual([
      expect.stringMatching(/placed in location hel1, outside region de \(fsn1, nbg1\)/),
    ]);
    expect(await messages(dataResidency, [server({})])).toEqual([expect.stringMatching(/names no location or datacenter/)]);
    expect(
      await messages(dataResidency, [{ type: "hcloud:index/networkSubnet:NetworkSubnet", props: { networkZone: "us-east", ipRange: "10.0.0.0/24" } }]),
    ).toHaveLength(1);
  });

  it("sp-501 takes the region from the policy config, the stack tag, then the stack's declared locations", async () => {
    expect(await messages(dataResidency, [server({ location: "hel1" })], { config: { region: "fi" } })).toEqual([]);
    expect(await messages(dataResidency, [server({ location: "hel1" })], { stackTags: { "serverpark:region": "eu" } })).toEqual([]);
    const declaring = (allowedLocations: string[]): FixtureResource => ({
      type: "serverpark:index:Datacenter",
      props: { model: { spec: { hetzner: { allowedLocations } }, plan: {}, target: "hetzner" } },
    });
    expect(await messages(dataResidency, [declaring(["fsn1"]), server({ location: "nbg1" })])).toEqual([
      expect.stringMatching(/outside the declared locations fsn1/),
    ]);
    // The auditor's pin wins over what the stack declares about itself.
    expect(await messages(dataResidency, [declaring(["ash"]), server({ location: "ash" })], { config: { region: "de" } })).toHaveLength(1);
    const outcome = await runPolicy(dataResidency, [container("db")]);
    expect([outcome.checked, outcome.notApplicable]).toEqual([0, ["no Hetzner Cloud resources in this stack"]]);
  });
});

describe("A.8.32 change management (resources)", () => {
  const volume = (protect: boolean): FixtureResource => ({
    type: "docker:index/volume:Volume",
    name: "fra1-svc-db-0-data",
    props: { name: "fra1-db-0-data" },
    opts: { protect },
  });

  it("sp-511 requires protect on volumes of production stacks", async () => {
    const production = { stackTags: { "serverpark:environment": "production" } };
    expect(await messages(protectStateful, [volume(true)], production)).toEqual([]);
    expect(await messages(protectStateful, [volume(false)], production)).toEqual([
      expect.stringMatching(/Volume "fra1-db-0-data" holds data in a production stack but is not protected/),
    ]);
    expect(await messages(protectStateful, [volume(false)], { config: { production: true } })).toHaveLength(1);
  });

  it("sp-511 is not applicable outside production", async () => {
    const outcome = await runPolicy(protectStateful, [volume(false)]);
    expect(outcome.violations).toEqual([]);
    expect(outcome.notApplicable[0]).toMatch(/not a production stack/);
  });
});
