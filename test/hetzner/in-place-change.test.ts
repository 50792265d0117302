/**
 * Changes without replacement: the program runs for the Hetzner stack, then for the same stack
 * with one thing changed (a service's settings, the registry password, every image), and the
 * two runs' registered inputs are compared resource by resource. The provider replaces a server
 * only when its inputs change (user data, type, location, image are what it replaces for), so
 * "no hcloud:Server differs" is what `pulumi preview` would show as "no server replaced"; what
 * does differ is the deployment's copies and commands of the containers concerned.
 *
 * Keys and certificates are minted once per resource and inputs for all runs (`minted`), as a
 * deployment's state keeps them: otherwise every run would differ in every TLS file.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { ProgramResult } from "../../components/program";
import { runUnderMocks, type MintedTls, type MockRun } from "../support/pulumiMocks";
import { resolvedInputs } from "./deployed";
import { rawSpec, REGISTRY_PASSWORD, stackFile } from "./fixture";

const SERVER = "hcloud:index/server:Server";
/**
 * What hcloud's provider replaces a server for (ForceNew in terraform-provider-hcloud's
 * hcloud_server schema, which @pulumi/hcloud bridges); every other input (server type, networks
 * and alias IPs, firewalls, labels, placement group, backups) it changes in place.
 */
const REPLACES = ["image", "location", "datacenter", "userData", "sshKeys"] as const;
const minted: MintedTls = new Map();

function runWith(edit: (raw: Record<string, any>) => void = () => {}, password = REGISTRY_PASSWORD): Promise<MockRun<ProgramResult>> {
  const raw = structuredClone(rawSpec);
  edit(raw);
  return runUnderMocks(async () => (await import("../../components/program.js")).runProgram(), {
    stack: "hetzner",
    config: { ...stackFile.config, "serverpark:datacenter": raw, "serverpark:registryPassword": password },
    minted,
  });
}

/** `type name` of every resource whose registered inputs differ between two runs (added and removed ones included). */
async function changed(before: MockRun<unknown>, after: MockRun<unknown>): Promise<string[]> {
  const inputs = async (run: MockRun<unknown>) =>
    new Map(await Promise.all(run.resources.map(async (r) => [`${r.type} ${r.name}`, JSON.stringify(await resolvedInputs(r.rawInputs))] as const)));
  const a = await inputs(before);
  const b = await inputs(after);
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
}

const servers = (run: MockRun<unknown>) => Object.fromEntries(run.byType(SERVER).map((s) => [s.name, s.inputs]));
const replacing = (run: MockRun<unknown>) =>
  Object.fromEntries(run.byType(SERVER).map((s) => [s.name, Object.fromEntries(REPLACES.map((k) => [k, s.inputs[k]]))]));

let base: MockRun<ProgramResult>;
let again: MockRun<ProgramResult>;
let settings: MockRun<ProgramResult>;
let password: MockRun<ProgramResult>;
let images: MockRun<ProgramResult>;
let bigger: MockRun<ProgramResult>;
let added: MockRun<ProgramResult>;

beforeAll(async () => {
  base = await runWith();
  again = await runWith();
  // The game service's simulation rate: a role setting, in its replica's runtime config only.
  settings = await runWith((raw) => (raw.services.find((s: any) => s.id === "arena").settings = { tickHz: 30 }));
  password = await runWith(undefined, `${REGISTRY_PASSWORD}-rotated`);
  // Another registry namespace: a new image reference for every role.
  images = await runWith((raw) => (raw.hetzner.registry.namespace = "serverpark-next"));
  // More memory for host h1: a bigger server type.
  bigger = await runWith((raw) => (raw.hosts.find((h: any) => h.id === "h1").capacity.memoryGb = 32));
  // A new service: new containers, new addresses on some servers.
  added = await runWith((raw) => raw.services.push({ id: "blog", role: "web", replicas: 2, plan: "vps-s", networks: ["private"] }));
}, 600_000);

describe("changes without replacing servers", () => {
  it("registers exactly the same inputs when nothing changed (so a difference below is the change's)", async () => {
    expect(base.byType(SERVER)).toHaveLength(7);
    expect(await changed(base, again)).toEqual([]);
  });

  it("updates only the changed replica's config and restarts only that container when a service's settings change", async () => {
    const diff = await changed(base, settings);
    console.log(`settings of arena changed → resources with other inputs:\n  ${diff.join("\n  ")}`);
    expect(diff).toEqual(["command:remote:Command fsn-svc-arena-0-start", "command:remote:CopyToRemote fsn-svc-arena-0-file-etc_serverpark_config.json"]);
    expect(servers(settings)).toEqual(servers(base));
  });

  it("logs in again with a rotated registry password, restarting nothing and replacing no server", async () => {
    const diff = await changed(base, password);
    console.log(`registry password rotated → resources with other inputs:\n  ${diff.join("\n  ")}`);
    expect(diff.filter((d) => d.startsWith("command:"))).toEqual(
      base
        .byType(SERVER)
        .map((s) => `command:remote:Command ${s.name.replace(/-server$/, "")}-deploy-registry`)
        .sort(),
    );
    // The images are pushed with the password too.
    expect(diff.filter((d) => !d.startsWith("command:")).every((d) => d.startsWith("docker:index/image:Image "))).toBe(true);
    expect(servers(password)).toEqual(servers(base));
  });

  it("rewrites every unit and restarts every container for new images, and still replaces no server", async () => {
    const diff = await changed(base, images);
    const starts = base.byType("command:remote:Command").filter((c) => c.name.endsWith("-start"));
    expect(starts.length).toBeGreaterThan(7);
    for (const start of starts) expect(diff, start.name).toContain(`command:remote:Command ${start.name}`);
    expect(diff.filter((d) => d.startsWith("hcloud:"))).toEqual([]);
    expect(servers(images)).toEqual(servers(base));
  });

  it("changes a server's type in place when its host grows: no input the provider replaces a server for differs", async () => {
    const diff = await changed(base, bigger);
    console.log(`host h1 grown → resources with other inputs:\n  ${diff.join("\n  ")}`);
    expect(diff).toContain(`${SERVER} fsn-host-h1-server`);
    expect(bigger.byType(SERVER).find((s) => s.inputs.name === "fsn-h1")!.inputs.serverType).not.toBe(
      base.byType(SERVER).find((s) => s.inputs.name === "fsn-h1")!.inputs.serverType,
    );
    expect(replacing(bigger)).toEqual(replacing(base));
  });

  it("adds a service's containers to running servers: their new addresses are alias IPs, changed in place", async () => {
    const diff = await changed(base, added);
    console.log(`service blog added → resources with other inputs:\n  ${diff.join("\n  ")}`);
    const blog = added.exports.plan.replicas.filter((r) => r.service === "blog");
    expect(blog).toHaveLength(2);
    for (const r of blog) expect(diff, r.id).toContain(`command:remote:Command fsn-svc-${r.id}-start`);
    expect(diff.filter((d) => d.startsWith(`${SERVER} `)).sort()).toEqual([...new Set(blog.map((r) => `${SERVER} fsn-host-${r.host}-server`))].sort());
    expect(replacing(added)).toEqual(replacing(base));
  });

  it("never changes an input the provider replaces a server for, in any of these changes", () => {
    for (const run of [settings, password, images, added]) expect(replacing(run)).toEqual(replacing(base));
  });
});
