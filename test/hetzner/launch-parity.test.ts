/**
 * Both targets translate the same launch descriptions (components/model/launch.ts): the
 * Hetzner stack's spec run through the Docker target and through the Hetzner target gives
 * every replica and every host agent the same environment, the same files (path, content,
 * secrecy) and the same health check. Target-specific environment variables are listed in
 * TARGET_ENV: on Hetzner a container serves its management port on every address of its own
 * network namespace (SP_MGMT_ADDRESS=0.0.0.0), and the unit publishes it on the planned address;
 * on Docker a file replica whose passive ports are published listens on the host ports the stack
 * got for them (SP_FILE_FTP_PASSIVE_PORTS, components/targets/docker/hostPorts.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { BACKUP_CLIENT_TLS_PATHS, BACKUP_STORE_PATH } from "../../contracts/backups";
import { MANAGEMENT_CLIENT_TLS_PATHS, TLS_PATHS } from "../../contracts/paths";
import { FTP_PASSIVE_PORTS_ENV } from "../../contracts/roles";
import type { ProgramResult } from "../../components/program";
import { fileSlug } from "../../components/targets/hetzner/units";
import { envRecord, splitCommandLine } from "../../policies/lib/containers";
import { roleImageSource } from "../../components/targets/docker/images";
import { isSecretValue, runUnderMocks, type MockRun } from "../support/pulumiMocks";
import { copiesOf, type Copied } from "./deployed";
import { REGISTRY_PASSWORD, specWith, stackFile } from "./fixture";
import { uploadsOf } from "../support/runtimeConfig";

/** Environment variables one target sets and the other does not, or sets otherwise. */
const TARGET_ENV: readonly string[] = ["SP_MGMT_ADDRESS", FTP_PASSIVE_PORTS_ENV];

interface Launched {
  env: Record<string, string>;
  /** path → content; on Hetzner also the file's permissions (Docker's uploads carry none). */
  files: Record<string, { content: string }>;
  modes: Record<string, string>;
  /** Docker: the uploads list is a secret on the wire (one secret element makes it one). */
  secretUploads?: boolean;
  /** Hetzner: which files' copies are secrets on the wire. */
  secretCopies?: Record<string, boolean>;
  health: { command: string; interval: string; timeout: string; retries: string; startPeriod: string };
  /** Hetzner: the unit's text. */
  unit?: string;
}

let docker: MockRun<ProgramResult>;
let hetzner: MockRun<ProgramResult>;
let hetznerCopies: Copied[];
const { plan } = specWith();

beforeAll(async () => {
  const run = (target: string) =>
    runUnderMocks(async () => (await import("../../components/program.js")).runProgram(), {
      stack: "hetzner",
      config: { ...stackFile.config, "serverpark:target": target, "serverpark:registryPassword": REGISTRY_PASSWORD },
    });
  docker = await run("docker");
  hetzner = await run("hetzner");
  hetznerCopies = await copiesOf(hetzner);
}, 240_000);

/**
 * Each run mints its own keys and certificates under mocks (lab/tls.ts), so TLS files are
 * compared by kind (the PEM block's type), every other file by content.
 */
const TLS_FILES = new Set([...Object.values(TLS_PATHS), ...Object.values(MANAGEMENT_CLIENT_TLS_PATHS), ...Object.values(BACKUP_CLIENT_TLS_PATHS)] as string[]);
const comparable = (files: Launched["files"]) =>
  Object.fromEntries(
    Object.entries(files).map(([path, f]) => [path, { ...f, content: TLS_FILES.has(path) ? /-----BEGIN ([A-Z ]+)-----/.exec(f.content)?.[1] : f.content }]),
  );

const withoutTargetEnv = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([k]) => !TARGET_ENV.includes(k)));

/** What the Docker target gave a container. */
function onDocker(name: string): Launched {
  const c = docker.byType("docker:index/container:Container").find((x) => x.inputs.name === name)!;
  expect(c, name).toBeDefined();
  const hc = c.inputs.healthcheck;
  expect(hc.tests[0]).toBe("CMD");
  return {
    env: Object.fromEntries((c.inputs.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
    files: Object.fromEntries([...uploadsOf(c.inputs.uploads)].map(([file, content]) => [file, { content }])),
    modes: {},
    secretUploads: isSecretValue(c.rawInputs.uploads),
    health: { command: hc.tests.slice(1).join(" "), interval: hc.interval, timeout: hc.timeout, retries: String(hc.retries), startPeriod: hc.startPeriod },
  };
}

/** What the Hetzner target's cloud-init gives the container `id` on `host`'s server. */
function onHetzner(host: string, id: string): Launched {
  // What the deployment copies to the host's server (components/targets/hetzner/deploy.ts), and how the start sets modes.
  const copies = hetznerCopies.filter((c) => c.name.startsWith(id === "host-agent" ? `fsn-host-${host}-agent-` : `fsn-svc-${id}-`));
  const written = new Map<string, string>(copies.map((c) => [c.remotePath, c.content]));
  const secretCopies: Record<string, boolean> = {};
  const start = hetzner
    .byType("command:remote:Command")
    .find((c) => c.name === (id === "host-agent" ? `fsn-host-${host}-agent-start` : `fsn-svc-${id}-start`))!;
  const chmod = new Map(
    (start.inputs.create as string)
      .split(" && ")
      .filter((step) => step.startsWith("chmod "))
      .map((step) => [step.split(" ")[2]!, step.split(" ")[1]!]),
  );
  const dir = `/etc/serverpark/containers/${id}`;
  const unit = written.get(`/etc/systemd/system/serverpark-${id}.service`)!;
  const argv = splitCommandLine(/^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit)![1]!);
  const env = envRecord(argv.flatMap((a, i) => (argv[i - 1] === "--env" ? [a] : [])));
  const files: Launched["files"] = {};
  const modes: Launched["modes"] = {};
  for (const m of unit.matchAll(/--volume (\S+):(\S+):ro/g)) {
    expect(m[1]).toBe(`${dir}/files/${fileSlug(m[2]!)}`);
    files[m[2]!] = { content: written.get(m[1]!)! };
    modes[m[2]!] = chmod.get(m[1]!)!;
    secretCopies[m[2]!] = copies.find((c) => c.remotePath === m[1])!.secret;
  }
  const flag = (name: string) => new RegExp(`--health-${name} ("[^"]*"|\\S+)`).exec(unit)![1]!.replace(/^"|"$/g, "");
  return {
    env,
    files,
    modes,
    secretCopies,
    unit,
    health: { command: flag("cmd"), interval: flag("interval"), timeout: flag("timeout"), retries: flag("retries"), startPeriod: flag("start-period") },
  };
}

describe("the same launch descriptions on both targets", () => {
  const deployed = plan.replicas.filter((r) => roleImageSource(r.role));

  it("has replicas to compare, backups among them", () => {
    expect(deployed.length).toBeGreaterThan(0);
    expect(deployed.some((r) => plan.services.find((s) => s.id === r.service)!.backup)).toBe(true);
  });

  it("gives every replica the same env, files and health check", () => {
    for (const r of deployed) {
      const d = onDocker(`fsn-${r.id}`);
      const h = onHetzner(r.host, r.id);
      expect(withoutTargetEnv(h.env), r.id).toEqual(withoutTargetEnv(d.env));
      expect(comparable(h.files), r.id).toEqual(comparable(d.files));
      expect(h.health, r.id).toEqual(d.health);
      expect(Object.keys(d.files).length, r.id).toBeGreaterThanOrEqual(4); // config, certificate, key, CA
    }
  });

  it("tells a replica with a declared backup where its backups go, on both targets: its volume, and the store of its target host's agent", () => {
    for (const r of deployed) {
      const backup = plan.services.find((s) => s.id === r.service)!.backup;
      const d = onDocker(`fsn-${r.id}`);
      const h = onHetzner(r.host, r.id);
      expect(d.env.SP_BACKUP_DIR !== undefined, r.id).toBe(backup !== undefined);
      expect(h.env.SP_BACKUP_DIR, r.id).toBe(d.env.SP_BACKUP_DIR);
      if (!backup?.targetHost) continue;
      const target = plan.hosts.find((x) => x.id === backup.targetHost)!;
      expect(
        Object.values(target.addresses).map((a) => `https://${a}:9100`),
        r.id,
      ).toContain(d.env.SP_BACKUP_STORE_URL);
      expect(h.env.SP_BACKUP_STORE_URL, r.id).toBe(d.env.SP_BACKUP_STORE_URL);
      expect(h.env.SP_BACKUP_STORE_HOST, r.id).toBe(backup.targetHost);
      expect(Object.keys(h.files), r.id).toContain(BACKUP_CLIENT_TLS_PATHS.cert);
      expect(h.modes[BACKUP_CLIENT_TLS_PATHS.key], r.id).toBe("0400");
    }
  });

  it("keeps secret files secret on both targets: a secret upload list on Docker, secret copies of owner-only files on Hetzner", () => {
    for (const r of deployed) {
      expect(onDocker(`fsn-${r.id}`).secretUploads, r.id).toBe(true);
      const { modes, secretCopies } = onHetzner(r.host, r.id);
      for (const [path, mode] of Object.entries(modes)) {
        const secret =
          path === TLS_PATHS.key ||
          path === MANAGEMENT_CLIENT_TLS_PATHS.key ||
          path === BACKUP_CLIENT_TLS_PATHS.key ||
          path.startsWith("/etc/serverpark/secrets/");
        expect(mode, `${r.id} ${path}`).toBe(secret ? "0400" : "0444");
        // A secret file travels as a secret (the copy's source), never in user data.
        if (secret) expect(secretCopies![path], `${r.id} ${path}`).toBe(true);
      }
      expect(modes[TLS_PATHS.key], r.id).toBe("0400");
    }
  });

  it.runIf(roleImageSource("host-agent"))("gives every host agent the same env and health check", () => {
    for (const host of plan.hosts) {
      const d = onDocker(`fsn-host-${host.id}`);
      const h = onHetzner(host.id, "host-agent");
      expect(withoutTargetEnv(h.env), host.id).toEqual(withoutTargetEnv(d.env));
      expect(h.health, host.id).toEqual(d.health);
    }
  });

  it.runIf(roleImageSource("host-agent"))("keeps a backup store on every backup target, on storage of its own on both targets", () => {
    const targets = new Set(plan.services.flatMap((s) => (s.backup?.targetHost ? [s.backup.targetHost] : [])));
    expect(targets.size).toBeGreaterThan(0);
    for (const host of plan.hosts) {
      const agent = docker.byType("docker:index/container:Container").find((x) => x.inputs.name === `fsn-host-${host.id}`)!;
      const mounts = ((agent.inputs.volumes ?? []) as { containerPath: string }[]).map((v) => v.containerPath);
      const h = onHetzner(host.id, "host-agent");
      if (targets.has(host.id)) {
        expect(onDocker(`fsn-host-${host.id}`).env.SP_BACKUP_CLIENTS, host.id).toBeDefined();
        expect(mounts, host.id).toEqual([BACKUP_STORE_PATH]);
        expect(h.unit, host.id).toContain(`--volume /srv/serverpark/backups/host-agent:${BACKUP_STORE_PATH}`);
      } else {
        expect(mounts, host.id).toEqual([]);
        expect(h.unit, host.id).not.toContain(BACKUP_STORE_PATH);
      }
    }
  });
});
