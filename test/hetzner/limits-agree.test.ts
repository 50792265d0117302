/**
 * `serverpark validate hetzner` and the program under mocks agree on every Hetzner limit the
 * target knows: for each, the stack just at the limit passes both, and one step past it is
 * refused by both with the same config path and message. (Both call `checkHetzner` today; this
 * test is what keeps a limit from being added to one of them only.)
 *
 * Limits not walked here, and why: the volume's 10,240 GB (a plan that large cannot be placed
 * on any host the catalogue offers, so the planner refuses it first), the balancer's ports (the
 * proxy role publishes 2, lb11 takes 5), user data's 32 KiB (one fixed bootstrap document, not
 * something a stack can grow), alias IPs per server (not checked by either yet: README).
 */
import "tsx/cjs";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { lockPathFor } from "../../components/plan/lock";
import { captureIo } from "../support/cliIo";
import { runUnderMocks } from "../support/pulumiMocks";
import { rawSpec, REGISTRY_PASSWORD, stackFile } from "./fixture";

const { main } = createRequire(join(process.cwd(), "test/hetzner/limits-agree.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");

type Edit = (raw: Record<string, any>) => void;

const host = (id: string, rack: string, kind = "virtualization") => ({
  id,
  rack,
  kind,
  psus: [`${rack}-pdu-a`, `${rack}-pdu-b`],
  capacity: { cpus: 8, memoryGb: 16, diskGb: 160 },
  powerWatts: 300,
});
const rack = (id: string) => ({ id, pdus: ["a", "b"].map((f) => ({ id: `${id}-pdu-${f}`, feed: f.toUpperCase(), capacityKw: 11 })) });
/** `count` more virtualization hosts on both feeds in rack r1 (the feed-a-b spread group). */
const moreHosts =
  (count: number): Edit =>
  (r) => {
    for (let i = 0; i < count; i++) r.hosts.push(host(`h${8 + i}`, "r1"));
  };
/** `proxies` internet-facing proxy replicas, each on its own server, in racks of at most 10 (placement by rack). */
const proxyServers =
  (proxies: number): Edit =>
  (r) => {
    r.hetzner.placement = "rack";
    r.racks.push(rack("r3"), rack("r4"), rack("r5"));
    for (let i = 0; i < proxies - 4; i++) r.hosts.push(host(`h${8 + i}`, ["r3", "r4", "r5"][i % 3]!));
    r.services.find((s: any) => s.id === "edge").replicas = proxies;
  };

/** limit, the stack at it, the stack one step past it, the config path the refusal names. */
const LIMITS: [string, Edit, Edit, string][] = [
  [
    "largest dedicated server type (ccx63: 48 vCPUs, 192 GB, 960 GB disk)",
    (r) => (r.hosts[6].capacity = { cpus: 48, memoryGb: 192, diskGb: 960 }),
    (r) => (r.hosts[6].capacity = { cpus: 48, memoryGb: 192, diskGb: 961 }),
    "hosts[6].capacity",
  ],
  [
    "largest type for a virtualization host (shared first, then dedicated)",
    (r) => (r.hosts[0].capacity = { cpus: 48, memoryGb: 16, diskGb: 160 }),
    (r) => (r.hosts[0].capacity = { cpus: 49, memoryGb: 16, diskGb: 160 }),
    "hosts[0].capacity",
  ],
  [
    "server type names (the catalogue)",
    (r) => (r.hetzner.serverTypes = { h1: "cx52" }),
    (r) => (r.hetzner.serverTypes = { h1: "cx62" }),
    "hetzner.serverTypes.h1",
  ],
  [
    "locations of one network zone",
    (r) => ((r.hetzner.allowedLocations = ["fsn1", "nbg1", "hel1", "ash"]), (r.hetzner.feedLocations = { B: "hel1" })),
    (r) => ((r.hetzner.allowedLocations = ["fsn1", "nbg1", "hel1", "ash"]), (r.hetzner.feedLocations = { B: "ash" })),
    "hetzner.feedLocations",
  ],
  [
    "3 networks per server",
    (r) => r.networks.push({ id: "spare", cidr: "10.42.3.0/24", exposure: "internal" }),
    (r) => (r.networks.push({ id: "spare", cidr: "10.42.3.0/24", exposure: "internal" }), (r.services[0].networks = ["private", "spare"])),
    "hosts[0]",
  ],
  ["10 servers per spread placement group", moreHosts(4), moreHosts(5), "hetzner.placement"],
  ["private address space for networks", (r) => (r.networks[2].cidr = "192.168.2.0/24"), (r) => (r.networks[2].cidr = "100.64.2.0/24"), "networks[2].cidr"],
  ["25 servers behind an lb11 load balancer", proxyServers(25), proxyServers(26), "hetzner.loadBalancer.type"],
];

const edited = (edit: Edit) => {
  const raw = structuredClone(rawSpec);
  edit(raw);
  return raw;
};

/** `serverpark validate` on a copy of the stack file (and its lock) with the edit: its issues as `path: message`. */
async function validate(edit: Edit): Promise<{ code: number; issues: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "sp-limits-"));
  const file = join(dir, "Pulumi.hetzner.yaml");
  writeFileSync(file, stringify({ config: { ...stackFile.config, "serverpark:datacenter": edited(edit) } }));
  copyFileSync(lockPathFor(stackFile.path), lockPathFor(file));
  const io = captureIo();
  const code = await main(["validate", file, "--json"], io);
  const report = JSON.parse(io.stdout) as { issues: { path: string; message: string }[] };
  return { code, issues: report.issues.map((i) => `${i.path}: ${i.message}`) };
}

/** The program under mocks with the edit: the issues its RunError lists as `path: message`, or none when it ran. */
async function program(edit: Edit): Promise<{ ran: boolean; servers: number; issues: string[] }> {
  try {
    const run = await runUnderMocks(async () => (await import("../../components/program.js")).runProgram(), {
      stack: "hetzner",
      config: { ...stackFile.config, "serverpark:datacenter": edited(edit), "serverpark:registryPassword": REGISTRY_PASSWORD },
      realTls: false,
    });
    return { ran: true, servers: run.byType("hcloud:index/server:Server").length, issues: [] };
  } catch (e) {
    const lines = (e as Error).message.split("\n").filter((l) => l.startsWith("  - "));
    return { ran: false, servers: 0, issues: lines.map((l) => l.slice(4).replace(/^serverpark:datacenter\./, "")) };
  }
}

beforeAll(() => vi.stubEnv("HCLOUD_TOKEN", undefined));
afterAll(() => vi.unstubAllEnvs());

describe("validate and the program agree on Hetzner's limits", () => {
  it.each(LIMITS)("%s", async (_limit, at, past, path) => {
    const [vAt, pAt] = [await validate(at), await program(at)];
    expect(vAt, JSON.stringify(vAt.issues)).toEqual({ code: 0, issues: [] });
    expect(pAt.issues).toEqual([]);
    expect(pAt.ran).toBe(true);
    expect(pAt.servers).toBe(edited(at).hosts.length);

    const [vPast, pPast] = [await validate(past), await program(past)];
    expect(vPast.code).toBe(1);
    expect(pPast.ran).toBe(false);
    expect(
      vPast.issues.some((i) => i.startsWith(`${path}: `)),
      JSON.stringify(vPast.issues),
    ).toBe(true);
    // The same problems, word for word.
    expect(pPast.issues.sort()).toEqual(vPast.issues.sort());
  });
});
