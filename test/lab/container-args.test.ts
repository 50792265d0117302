/** The harness's translation of @pulumi/docker inputs to docker CLI arguments (no engine needed). */
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planContainer, shellQuote } from "../../lab/container-args";
import { imageBuild, networkCreateArgs, volumeCreateArgs } from "../../lab/resource-args";
import { tarOf } from "../../lab/tar";

const labels = { "serverpark.harness-run": "r1" };
const plan = (inputs: Record<string, unknown>, portBindIp?: string) =>
  planContainer({ name: "c1", image: "img:1", ...inputs }, { labels, ...(portBindIp ? { portBindIp } : {}) });
/** The value following each occurrence of `flag`. */
const values = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

describe("planContainer", () => {
  it.each([
    [{ memory: 256 }, "--memory", ["256m"]],
    [{ memorySwap: -1 }, "--memory-swap", ["-1"]],
    [{ memorySwap: 512 }, "--memory-swap", ["512m"]],
    [{ cpus: "1.5" }, "--cpus", ["1.5"]],
    [{ cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000 }, "--cpu-quota", ["50000"]],
    [{ restart: "on-failure", maxRetryCount: 3 }, "--restart", ["on-failure:3"]],
    [{ restart: "unless-stopped" }, "--restart", ["unless-stopped"]],
    [{ envs: ["A=1", "B=two words"] }, "--env", ["A=1", "B=two words"]],
    [{ sysctls: { "net.ipv4.ip_unprivileged_port_start": "0" } }, "--sysctl", ["net.ipv4.ip_unprivileged_port_start=0"]],
    [{ capabilities: { adds: ["NET_BIND_SERVICE"], drops: ["ALL"] } }, "--cap-drop", ["ALL"]],
    [{ ulimits: [{ name: "nofile", soft: 1024, hard: 4096 }] }, "--ulimit", ["nofile=1024:4096"]],
    [{ tmpfs: { "/run": "size=1m" } }, "--tmpfs", ["/run:size=1m"]],
    [{ logDriver: "json-file", logOpts: { "max-size": "1m" } }, "--log-opt", ["max-size=1m"]],
    [{ stopSignal: "SIGINT", stopTimeout: 20 }, "--stop-timeout", ["20"]],
    [{ dns: ["10.42.0.53"], dnsSearches: ["dc.test"] }, "--dns-search", ["dc.test"]],
    [{ labels: [{ label: "role", value: "web" }] }, "--label", ["role=web", "serverpark.harness-run=r1"]],
    [{ volumes: [{ volumeName: "data", containerPath: "/data" }] }, "--volume", ["data:/data"]],
    [{ volumes: [{ hostPath: "/srv", volumeName: "ignored", containerPath: "/srv", readOnly: true }] }, "--volume", ["/srv:/srv:ro"]],
    [
      { mounts: [{ type: "tmpfs", target: "/t", tmpfsOptions: { sizeBytes: 1024, mode: 0o1777 } }] },
      "--mount",
      ["type=tmpfs,target=/t,tmpfs-size=1024,tmpfs-mode=1777"],
    ],
  ])("maps %j", (inputs, flag, expected) => {
    expect(values(plan(inputs).createArgs, flag)).toEqual(expected);
  });

  it("publishes on the test bind address only when the input leaves ip open", () => {
    const ports = [{ internal: 80 }, { internal: 53, external: 5353, protocol: "udp", ip: "127.0.0.2" }];
    expect(values(plan({ ports }).createArgs, "--publish")).toEqual(["0.0.0.0::80/tcp", "127.0.0.2:5353:53/udp"]);
    expect(values(plan({ ports }, "127.0.0.1").createArgs, "--publish")).toEqual(["127.0.0.1::80/tcp", "127.0.0.2:5353:53/udp"]);
  });

  it("creates on the first network and connects the others with address and aliases", () => {
    const p = plan({
      networksAdvanced: [
        { name: "front", ipv4Address: "10.42.1.10", aliases: ["www"] },
        { name: "back", ipv4Address: "10.42.2.10", aliases: ["www-1", "w1"] },
      ],
    });
    expect(values(p.createArgs, "--network")).toEqual(["front"]);
    expect(values(p.createArgs, "--ip")).toEqual(["10.42.1.10"]);
    expect(values(p.createArgs, "--network-alias")).toEqual(["www"]);
    expect(p.connects).toEqual([["--ip", "10.42.2.10", "--alias", "www-1", "--alias", "w1", "back", "c1"]]);
  });

  it("keeps exec-form health checks and entrypoints executing the same argv", () => {
    const p = plan({
      healthcheck: { tests: ["CMD", "node", "-e", "process.exit(0)"], interval: "2s", timeout: "0s", retries: 3 },
      entrypoints: ["node", "--enable-source-maps"],
      command: ["/app/main.mjs"],
    });
    expect(values(p.createArgs, "--health-cmd")).toEqual(["node -e 'process.exit(0)'"]);
    expect(values(p.createArgs, "--health-interval")).toEqual(["2s"]);
    expect(p.createArgs).not.toContain("--health-timeout"); // "0s" means "inherit from the image"
    expect(values(p.createArgs, "--entrypoint")).toEqual(["node"]);
    expect(p.createArgs.slice(-3)).toEqual(["img:1", "--enable-source-maps", "/app/main.mjs"]);
  });

  it("records named volumes, uploads and the start/wait flags", () => {
    const p = plan({
      volumes: [{ volumeName: "db-data", containerPath: "/var/lib/db" }],
      uploads: [{ file: "/etc/app/zone.txt", content: "x", executable: true }],
      start: false,
      wait: true,
      waitTimeout: 5,
    });
    expect(p.namedVolumes).toEqual(["db-data"]);
    expect(p.uploads).toEqual([{ file: "/etc/app/zone.txt", content: Buffer.from("x"), mode: 0o744 }]);
    expect(p.start).toBe(false);
    expect(p.waitHealthyMs).toBe(5000);
  });

  it("reads an upload's source file like the provider, and refuses one whose bytes are not its sourceHash", () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-lab-source-"));
    const path = join(dir, "view.json");
    writeFileSync(path, '{"zones":[]}');
    const sha256 = createHash("sha256").update('{"zones":[]}').digest("hex");
    const p = plan({ uploads: [{ file: "/etc/serverpark/view.json", source: path, sourceHash: sha256 }] });
    expect(p.uploads).toEqual([{ file: "/etc/serverpark/view.json", content: Buffer.from('{"zones":[]}'), mode: 0o644 }]);
    writeFileSync(path, '{"zones":[1]}');
    expect(() => plan({ uploads: [{ file: "/v", source: path, sourceHash: sha256 }] })).toThrow(/has SHA-256 [0-9a-f]{64}, not the sourceHash/);
    expect(() => plan({ uploads: [{ file: "/v", source: join(dir, "gone.json") }] })).toThrow(/cannot read uploads\[\]\.source .*gone\.json: ENOENT/);
  });

  it("rejects unknown inputs by name instead of ignoring them", () => {
    expect(() => plan({ gpus: "all", devices: [] })).toThrow(/container "c1": input "gpus", "devices" is not supported/);
    expect(() => plan({ networksAdvanced: [{ name: "n", macAddress: "02:42:ac:11:00:02" }] })).toThrow(/networksAdvanced\[\]\.macAddress/);
    expect(() => plan({ memory: "256" })).toThrow(/input "memory" must be a number/);
    expect(() => plan({ image: undefined })).toThrow(/input "image" is required/);
  });

  it("refuses uploads into a read-only root filesystem, as the engine would", () => {
    expect(() => plan({ readOnly: true, uploads: [{ file: "/x", content: "y" }] })).toThrow(/uploads cannot be written into a readOnly container/);
  });

  it("accepts inputs that only matter to later updates or destroy", () => {
    expect(() => plan({ mustRun: true, removeVolumes: true, destroyGraceSeconds: 5 })).not.toThrow();
  });
});

describe("network, volume and image inputs", () => {
  it("maps a network with IPAM, labels and options", () => {
    const args = networkCreateArgs(
      {
        name: "dc-storage",
        driver: "bridge",
        internal: true,
        ipamConfigs: [{ subnet: "10.42.3.0/24", gateway: "10.42.3.1", ipRange: "10.42.3.128/25" }],
        labels: [{ label: "serverpark.network", value: "storage" }],
        options: { "com.docker.network.bridge.enable_icc": "true" },
      },
      labels,
    );
    expect(args).toEqual([
      "--driver", "bridge", "--internal",
      "--subnet", "10.42.3.0/24", "--gateway", "10.42.3.1", "--ip-range", "10.42.3.128/25",
      "--opt", "com.docker.network.bridge.enable_icc=true",
      "--label", "serverpark.network=storage", "--label", "serverpark.harness-run=r1",
      "dc-storage",
    ]); // prettier-ignore
    expect(() => networkCreateArgs({ name: "n", ingress: true }, labels)).toThrow(/"ingress" is not supported/);
  });

  it("maps a volume", () => {
    expect(volumeCreateArgs({ name: "v", labels: [{ label: "a", value: "b" }] }, labels)).toEqual([
      "--label", "a=b", "--label", "serverpark.harness-run=r1", "v",
    ]); // prettier-ignore
  });

  it("resolves the build like the provider and refuses a push", () => {
    const root = new URL("../../images/host-agent/", `file://${__dirname}/`).pathname;
    const build = imageBuild(
      { imageName: "sp/ha:dev", skipPush: true, build: { context: "images/host-agent", args: { VERSION: "1" } } },
      new URL("../..", `file://${__dirname}/`).pathname,
    );
    expect(build.context).toBe(root.replace(/\/$/, ""));
    expect(build.dockerfile).toBe(`${root}Dockerfile`);
    expect(values(build.args, "--build-arg")).toEqual(["VERSION=1"]);
    expect(build.args.at(-1)).toBe(build.context);
    expect(() => imageBuild({ imageName: "x", build: {} }, "/")).toThrow(/skipPush must be true/);
  });
});

describe("tarOf", () => {
  it("writes a valid ustar header", () => {
    const tar = tarOf("etc/app/x.conf", Buffer.from("hello"), 0o640);
    expect(tar.length).toBe(512 + 512 + 1024);
    expect(tar.subarray(0, 14).toString()).toBe("etc/app/x.conf");
    expect(tar.subarray(257, 262).toString()).toBe("ustar");
    const stored = parseInt(tar.subarray(148, 154).toString(), 8);
    const header = Buffer.from(tar.subarray(0, 512));
    header.fill(" ", 148, 156);
    expect(stored).toBe(header.reduce((a, b) => a + b, 0));
  });
  it("quotes shell arguments only when needed", () => {
    expect(["a", "it's", "x y"].map(shellQuote)).toEqual(["a", `'it'\\''s'`, "'x y'"]);
  });
});
