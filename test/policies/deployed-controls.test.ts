/**
 * The policies issue 20 added, each checked on what is deployed (resource inputs, the runtime
 * config each replica is given, the images' Dockerfiles), with a passing and a failing fixture.
 * Every failing fixture also runs through the whole pack: beyond what its passing twin fails
 * (partial fixtures lack what other policies want), it must fail exactly the policy it targets.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DB_HA_MONITOR_PASSWORD_PATH, DB_HA_REPLICATION_PASSWORD_PATH, DB_PASSWORD_PATH, RUNTIME_CONFIG_PATH } from "../../contracts/paths";
import type { DatacenterPlan } from "../../components/plan/types";
import { evaluatePolicies } from "../../components/compliance/evaluate";
import type { SpPolicy } from "../../policies/lib/policy";
import { POLICIES } from "../../policies/rules";
import { dataStoresRequireLogin, generatedCredentialsStrong, passwordBits } from "../../policies/rules/credentials";
import { retentionDelivered } from "../../policies/rules/deletion";
import { inventoryMatchesDeployment } from "../../policies/rules/inventory";
import { clientLimitsInForce } from "../../policies/rules/limits";
import { environmentsSeparated } from "../../policies/rules/separation";
import { replicasAcrossRacks } from "../../policies/rules/siting";
import { supportedSoftwareLines, unsupportedBase } from "../../policies/rules/vulnerabilities";
import { container, datacenterResource, localSpecInput, messages, recorded, runPolicy, type FixtureResource } from "./support";

const local = () => datacenterResource(localSpecInput());
const plan = (): DatacenterPlan => (local().props.model as { plan: DatacenterPlan }).plan;

/** A replica container as the Docker target creates it: labels, SP_HOST, and its runtime config. */
function replica(id: string, overrides: { config?: Record<string, unknown>; envs?: string[]; host?: string; name?: string } = {}): FixtureResource {
  const r = plan().replicas.find((x) => x.id === id)!;
  const svc = plan().services.find((s) => s.id === r.service)!;
  const config = {
    datacenter: "fra1",
    service: svc.id,
    role: svc.role,
    replica: id,
    host: r.host,
    rack: r.rack,
    settings: {},
    ...(svc.backup ? { backup: svc.backup } : {}),
    ...overrides.config,
  };
  const base = container(svc.role);
  return {
    ...base,
    name: `fra1-svc-${id}`,
    props: {
      ...base.props,
      name: overrides.name ?? `fra1-${id}`,
      labels: [
        { label: "serverpark.datacenter", value: "fra1" },
        { label: "serverpark.role", value: svc.role },
        { label: "serverpark.version", value: "0.1.0" },
        { label: "serverpark.replica", value: id },
        { label: "serverpark.service", value: svc.id },
      ],
      envs: overrides.envs ?? [
        `SP_HOST=${overrides.host ?? r.host}`,
        `SP_CONFIG=${RUNTIME_CONFIG_PATH}`,
        ...(svc.stateful ? ["SP_BACKUP_DIR=/var/lib/serverpark/backup"] : []),
      ],
      uploads: [{ file: RUNTIME_CONFIG_PATH, content: JSON.stringify(config) }],
    },
  };
}

const agent = (host: string): FixtureResource => ({
  type: "docker:index/container:Container",
  name: `fra1-host-${host}-agent`,
  props: {
    name: `fra1-host-${host}`,
    labels: [
      { label: "serverpark.datacenter", value: "fra1" },
      { label: "serverpark.role", value: "host-agent" },
      { label: "serverpark.host", value: host },
      { label: "serverpark.version", value: "0.1.0" },
    ],
  },
});

/** The whole datacenter as deployed: the model, an agent per host, a container per replica. */
const deployed = (): FixtureResource[] => [local(), ...plan().hosts.map((h) => agent(h.id)), ...plan().replicas.map((r) => replica(r.id))];

/** A project root whose stacks/ holds only the given stack files (name → datacenter name). */
function projectWith(stacks: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "sp-separation-"));
  mkdirSync(join(root, "stacks"));
  for (const [stack, dc] of Object.entries(stacks))
    writeFileSync(join(root, "stacks", `Pulumi.${stack}.yaml`), `config:\n  serverpark:datacenter:\n    name: ${dc}\n`);
  return root;
}

/** The ids of every policy of the pack that a set of resources fails. */
async function failing(resources: readonly FixtureResource[], config: Record<string, unknown> = {}): Promise<string[]> {
  const evaluation = await evaluatePolicies(POLICIES, resources.map(recorded), { config: config as never, stackTags: {}, packEnforcementLevel: "mandatory" });
  return [...new Set(evaluation.violations.map((v) => v.policy))].sort();
}

/** Checks a failing fixture fails `policy` and, of the policies that judge it, only that one. */
async function failsOnly(policy: SpPolicy, bad: readonly FixtureResource[], good: readonly FixtureResource[], config: Record<string, unknown> = {}) {
  const before = await failing(good, config);
  expect(before, "the passing fixture").not.toContain(policy.name);
  const after = await failing(bad, config);
  expect(after.filter((id) => !before.includes(id))).toEqual([policy.name]);
}

describe("A.5.17 sp-215 generated credentials", () => {
  const password = (props: Record<string, unknown>): FixtureResource => ({ type: "random:index/randomPassword:RandomPassword", name: "pw", props });
  it("counts entropy from length and character classes", () => {
    expect(passwordBits({ length: 24, special: false })).toBe(142); // the stack's generated passwords
    expect(passwordBits({ length: 20, special: false, upper: false })).toBe(103);
    expect(passwordBits({ length: 20 })).toBe(127); // 20 × log2(83): the provider's 21 specials and 62 letters and digits
  });

  it("passes the stack's passwords, salts and keys; fails short ones and RSA 2048", async () => {
    expect(await messages(generatedCredentialsStrong, [password({ length: 24, special: false })])).toEqual([]);
    expect(await messages(generatedCredentialsStrong, [password({ length: 16, special: false })])).toEqual([
      expect.stringMatching(/RandomPassword pw is 16 characters \(95 bits of entropy\); the stack requires at least 20 characters and 112 bits/),
    ]);
    expect(await messages(generatedCredentialsStrong, [password({ length: 20, special: false, upper: false })])).toHaveLength(1);
    const bytes = (length: number): FixtureResource => ({ type: "random:index/randomBytes:RandomBytes", name: "salt", props: { length } });
    expect(await messages(generatedCredentialsStrong, [bytes(16)])).toEqual([]);
    expect(await messages(generatedCredentialsStrong, [bytes(8)])).toEqual([expect.stringMatching(/RandomBytes salt is 8 bytes/)]);
    const key = (props: Record<string, unknown>): FixtureResource => ({ type: "tls:index/privateKey:PrivateKey", name: "k", props });
    expect(
      await messages(generatedCredentialsStrong, [
        key({ algorithm: "ECDSA", ecdsaCurve: "P256" }),
        key({ algorithm: "RSA", rsaBits: 4096 }),
        key({ algorithm: "ED25519" }),
      ]),
    ).toEqual([]);
    expect(await messages(generatedCredentialsStrong, [key({ algorithm: "RSA" })])).toEqual([expect.stringMatching(/PrivateKey k is RSA 2048 bits/)]);
    expect(await messages(generatedCredentialsStrong, [key({ algorithm: "ECDSA", ecdsaCurve: "P224" })])).toHaveLength(1);
  });

  it("a short password fails exactly sp-215", async () => {
    await failsOnly(
      generatedCredentialsStrong,
      [...deployed(), password({ length: 12, special: false })],
      [...deployed(), password({ length: 24, special: false })],
      {
        "sp-305-environments-separated": { projectRoot: projectWith({}) },
      },
    );
  });
});

describe("A.8.3 sp-214 data stores require a login", () => {
  it("passes a db given its password file, fails one without, ignores roles without data", async () => {
    expect(await messages(dataStoresRequireLogin, [container("db", { uploads: [{ file: DB_PASSWORD_PATH, content: "x" }] })])).toEqual([]);
    expect(await messages(dataStoresRequireLogin, [container("db")])).toEqual([
      expect.stringMatching(/\(role db\) is not given \/etc\/serverpark\/secrets\/db-password: it has no credentials to check logins against/),
    ]);
    expect(await messages(dataStoresRequireLogin, [container("mail")])).toHaveLength(1);
    expect((await runPolicy(dataStoresRequireLogin, [container("web")])).checked).toBe(0);
  });

  it("an HA db's monitor checks logins against its own login's password: given that one, it passes without the application's", async () => {
    const monitor = container("db", { uploads: [{ file: DB_HA_MONITOR_PASSWORD_PATH, content: "x" }] });
    expect(await messages(dataStoresRequireLogin, [monitor])).toEqual([]);
    // A data node (it has the replication password) still needs the application's password file.
    const dataNode = container("db", {
      uploads: [
        { file: DB_HA_MONITOR_PASSWORD_PATH, content: "x" },
        { file: DB_HA_REPLICATION_PASSWORD_PATH, content: "x" },
      ],
    });
    expect(await messages(dataStoresRequireLogin, [dataNode])).toEqual([expect.stringMatching(/is not given \/etc\/serverpark\/secrets\/db-password/)]);
  });
});

describe("A.8.23/A.8.26 sp-314 client limits in force", () => {
  const proxy = (settings: Record<string, unknown>) => replica("edge-0", { config: { settings } });
  const dns = (settings: Record<string, unknown>) => replica("ns-0", { config: { settings } });
  it("passes the roles' defaults; fails a switched-off rate limit, an unbounded body and RRL off", async () => {
    expect(await messages(clientLimitsInForce, [proxy({}), dns({})])).toEqual([]);
    expect(await messages(clientLimitsInForce, [proxy({ rateLimit: { requestsPerSecond: 0 } })])).toEqual([
      expect.stringMatching(/fra1-edge-0.*\(role proxy\): rateLimit\.requestsPerSecond is 0 \(no per-client request limit\)/),
    ]);
    expect(await messages(clientLimitsInForce, [proxy({ maxBodyBytes: 0 })])).toEqual([expect.stringMatching(/maxBodyBytes is 0/)]);
    expect(await messages(clientLimitsInForce, [proxy({ maxBodyBytes: 1e9 })])).toEqual([
      expect.stringMatching(/maxBodyBytes is 1000000000 \(must be between 1 and 104857600/),
    ]);
    expect(await messages(clientLimitsInForce, [dns({ rrl: { responsesPerSecond: 0 } })])).toEqual([
      expect.stringMatching(/\(role dns\): rrl\.responsesPerSecond is 0/),
    ]);
    expect((await runPolicy(clientLimitsInForce, [replica("www-0")])).checked).toBe(0);
  });

  it("a proxy without a rate limit fails exactly sp-314", async () => {
    const bad = deployed().map((r) => (r.name === "fra1-svc-edge-0" ? proxy({ rateLimit: { requestsPerSecond: 0 } }) : r));
    await failsOnly(clientLimitsInForce, bad, deployed(), { "sp-305-environments-separated": { projectRoot: projectWith({}) } });
  });
});

describe("A.8.10 sp-423 backup retention delivered", () => {
  it("passes replicas given their service's retention; fails one given none, one without a backup folder, and a retention above the maximum", async () => {
    expect(await messages(retentionDelivered, deployed())).toEqual([]);
    const noRetention = deployed().map((r) => (r.name === "fra1-svc-db-0" ? replica("db-0", { config: { backup: undefined } }) : r));
    expect(await messages(retentionDelivered, noRetention)).toEqual([
      expect.stringMatching(
        /fra1-db-0.*\(replica db-0 of service db\) is given backup retention none but service db declares 30: its old backups are never deleted/,
      ),
    ]);
    const noDir = deployed().map((r) => (r.name === "fra1-svc-mail-0" ? replica("mail-0", { envs: ["SP_HOST=h2"] }) : r));
    expect(await messages(retentionDelivered, noDir)).toEqual([expect.stringMatching(/\(replica mail-0 of service mail\) has no SP_BACKUP_DIR/)]);
    expect(await messages(retentionDelivered, deployed(), { config: { maxRetentionDays: 20 } })).toEqual([
      expect.stringMatching(/service db keeps backups 30 days, longer than the stack's maximum of 20/),
    ]);
    expect((await runPolicy(retentionDelivered, [local()])).checked).toBe(0); // no container to judge: not applicable, not pass
  });

  it("a replica not given its retention fails exactly sp-423", async () => {
    const bad = deployed().map((r) => (r.name === "fra1-svc-files-0" ? replica("files-0", { config: { backup: { schedule: "0 3 * * *" } } }) : r));
    await failsOnly(retentionDelivered, bad, deployed(), { "sp-305-environments-separated": { projectRoot: projectWith({}) } });
  });
});

describe("A.7.8 sp-112 replicas across racks", () => {
  it("passes the local placement; fails when the running replicas of a service share a rack", async () => {
    expect(await messages(replicasAcrossRacks, deployed())).toEqual([]);
    const oneRack = deployed().map((r) => (r.name === "fra1-svc-www-1" ? replica("www-1", { config: { rack: "r1" } }) : r));
    expect(await messages(replicasAcrossRacks, oneRack)).toEqual([expect.stringMatching(/\(www\): all 2 replicas \(www-0, www-1\) run in rack r1/)]);
  });

  it("a service in one rack fails exactly sp-112", async () => {
    const bad = deployed().map((r) => (r.name === "fra1-svc-edge-1" ? replica("edge-1", { config: { rack: "r1" } }) : r));
    await failsOnly(replicasAcrossRacks, bad, deployed(), { "sp-305-environments-separated": { projectRoot: projectWith({}) } });
  });
});

describe("A.8.31 sp-305 environments separated", () => {
  it("passes a datacenter of its own; fails a name another stack uses, and an unscoped or mislabelled resource", async () => {
    const config = (stacks: Record<string, string>) => ({ config: { projectRoot: projectWith(stacks) } });
    expect(await messages(environmentsSeparated, deployed(), config({ hetzner: "fsn" }))).toEqual([]);
    expect(await messages(environmentsSeparated, deployed(), config({ staging: "fra1" }))).toEqual([
      expect.stringMatching(/stack fixture and stack staging both run datacenter "fra1"/),
    ]);
    // The stack's own file does not count against it.
    expect(await messages(environmentsSeparated, deployed(), config({ fixture: "fra1" }))).toEqual([]);
    const unscoped = [...deployed(), replica("www-0", { name: "www-0" })];
    expect(await messages(environmentsSeparated, unscoped, config({}))).toEqual([expect.stringMatching(/is named "www-0", not "fra1-…"/)]);
    const net: FixtureResource = {
      type: "docker:index/network:Network",
      name: "n",
      props: { name: "fra1-private", labels: [{ label: "serverpark.datacenter", value: "ams1" }] },
    };
    expect(await messages(environmentsSeparated, [...deployed(), net], config({}))).toEqual([expect.stringMatching(/labelled datacenter ams1/)]);
  });

  it("a datacenter name shared with another stack fails exactly sp-305", async () => {
    const resources = deployed();
    const good = await failing(resources, { "sp-305-environments-separated": { projectRoot: projectWith({ other: "ams1" }) } });
    const bad = await failing(resources, { "sp-305-environments-separated": { projectRoot: projectWith({ other: "fra1" }) } });
    expect(good).not.toContain("sp-305-environments-separated");
    expect(bad.filter((id) => !good.includes(id))).toEqual(["sp-305-environments-separated"]);
  });
});

describe("A.5.9 sp-413 inventory matches the deployment", () => {
  it("passes a deployment of exactly the plan; fails a missing agent, a missing or unplanned replica and a replica on the wrong host", async () => {
    expect(await messages(inventoryMatchesDeployment, deployed())).toEqual([]);
    expect(
      await messages(
        inventoryMatchesDeployment,
        deployed().filter((r) => r.name !== "fra1-host-h7-agent"),
      ),
    ).toEqual(["host h7 of the inventory runs no host agent. Fix: deploy the stack."]);
    expect(
      await messages(
        inventoryMatchesDeployment,
        deployed().filter((r) => r.name !== "fra1-svc-ns-1"),
      ),
    ).toEqual(["replica ns-1 of service ns runs no container. Fix: deploy the stack."]);
    const ghost = replica("www-0");
    (ghost.props.labels as { label: string; value: string }[])[3]!.value = "ghost-0";
    expect(await messages(inventoryMatchesDeployment, [...deployed(), { ...ghost, name: "fra1-svc-ghost-0" }])).toEqual([
      expect.stringMatching(/runs replica ghost-0, which the plan does not list/),
    ]);
    const moved = deployed().map((r) => (r.name === "fra1-svc-db-0" ? replica("db-0", { host: "h6" }) : r));
    expect(await messages(inventoryMatchesDeployment, moved)).toEqual([expect.stringMatching(/runs replica db-0 as host h6, but the plan puts it on h3/)]);
  });

  it("a replica that does not run fails exactly sp-413", async () => {
    await failsOnly(
      inventoryMatchesDeployment,
      deployed().filter((r) => r.name !== "fra1-svc-arena-0"),
      deployed(),
      { "sp-305-environments-separated": { projectRoot: projectWith({}) } },
    );
  });
});

describe("A.8.8 sp-414 supported software lines", () => {
  const image = (from: string): FixtureResource => {
    const dir = mkdtempSync(join(tmpdir(), "sp-dockerfile-"));
    writeFileSync(join(dir, "Dockerfile"), `ARG NODE=24\nFROM ${from} AS build\nFROM build\nUSER node\n`);
    return {
      type: "docker:index/image:Image",
      name: "img",
      props: { imageName: "serverpark/web:0.1.0", build: { context: dir, dockerfile: join(dir, "Dockerfile") } },
    };
  };
  it("knows the supported Node.js lines", () => {
    expect(unsupportedBase("node:24-bookworm-slim", [22, 24])).toBeUndefined();
    expect(unsupportedBase("docker.io/library/node:22.11-alpine", [22, 24])).toBeUndefined();
    expect(unsupportedBase("node:20-slim", [22, 24])).toMatch(/Node\.js 20, not a supported line/);
    expect(unsupportedBase("python:3.12", [22, 24])).toMatch(/not a Node\.js image/);
  });

  it("passes the images' Dockerfiles and Debian 12; fails Node 20, another base, and an unsupported OS", async () => {
    expect(await messages(supportedSoftwareLines, [image("node:24-bookworm-slim"), image("node:${NODE}-bookworm-slim")])).toEqual([]);
    expect(await messages(supportedSoftwareLines, [image("node:20-bookworm-slim")])).toEqual([
      expect.stringMatching(/FROM node:20-bookworm-slim is Node\.js 20, not a supported line \(22, 24\)/),
    ]);
    expect(await messages(supportedSoftwareLines, [image("debian:12")])).toHaveLength(1);
    // Retiring a line is config: the same image fails once 24 is the only supported line.
    expect(await messages(supportedSoftwareLines, [image("node:22-slim")], { config: { nodeMajors: [24] } })).toHaveLength(1);
    const server = (img: string): FixtureResource => ({ type: "hcloud:index/server:Server", name: "s", props: { name: "fsn-h1", image: img } });
    expect(await messages(supportedSoftwareLines, [server("debian-12")])).toEqual([]);
    expect(await messages(supportedSoftwareLines, [server("centos-7")])).toEqual([expect.stringMatching(/boots centos-7, not a supported OS image/)]);
  });

  it("an image on an old Node line fails exactly sp-414", async () => {
    const config = { "sp-305-environments-separated": { projectRoot: projectWith({}) } };
    await failsOnly(supportedSoftwareLines, [...deployed(), image("node:18-slim")], [...deployed(), image("node:24-slim")], config);
  });
});
