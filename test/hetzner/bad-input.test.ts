/**
 * Bad input through the real program: a clear error naming each config path, and not a single
 * resource registered (the checks run before the `Datacenter` component exists).
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { REGISTRY_PASSWORD, stackFile } from "./fixture";

const registered: string[] = [];
const inputsOf = new Map<string, Record<string, any>>();
let runProgram: typeof import("../../components/program.js").runProgram;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push(`${args.type} ${args.name}`);
        inputsOf.set(`${args.type} ${args.name}`, args.inputs);
        return { id: String(registered.length), state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "serverpark",
    "hetzner",
    true,
  );
  ({ runProgram } = await import("../../components/program.js"));
});

/** Runs the program on the stack's config changed by `edit`; returns the error message. */
function failureOf(edit: (spec: any, config: Record<string, unknown>) => void): string {
  const spec = structuredClone(stackFile.config["serverpark:datacenter"]);
  const config: Record<string, unknown> = { ...stackFile.config, "serverpark:registryPassword": REGISTRY_PASSWORD };
  edit(spec, config);
  config["serverpark:datacenter"] = spec;
  // setAllConfig replaces the whole config, so a deleted key is really unset.
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])));
  try {
    runProgram();
  } catch (e) {
    expect(e).toBeInstanceOf(pulumi.RunError);
    return (e as Error).message;
  }
  throw new Error("the program accepted bad input");
}

describe("hetzner bad input", () => {
  it.each([
    ["unknown location", (s: any) => (s.hetzner.location = "fra9"), /serverpark:datacenter\.hetzner\.location: unknown Hetzner location "fra9"/],
    [
      "unknown server type",
      (s: any) => (s.hetzner.serverTypes = { h2: "cx21x" }),
      /serverpark:datacenter\.hetzner\.serverTypes\.h2: unknown server type "cx21x"/,
    ],
    [
      "a capacity no type offers",
      (s: any) => (s.hosts[6].capacity = { cpus: 96, memoryGb: 32, diskGb: 240 }),
      /serverpark:datacenter\.hosts\[6\]\.capacity: no Hetzner dedicated-vCPU server type offers 96 cpus/,
    ],
    ["missing SSH key", (s: any) => delete s.hetzner.sshKey, /serverpark:datacenter\.hetzner\.sshKey: is required/],
    ["missing registry", (s: any) => delete s.hetzner.registry, /serverpark:datacenter\.hetzner\.registry: is required/],
    [
      "missing registry password",
      (_s: any, c: Record<string, unknown>) => delete c["serverpark:registryPassword"],
      /serverpark:registryPassword: is required \(the registry password, as a secret\)/,
    ],
  ])("%s: names the config path, registers nothing", (_what, edit, message) => {
    expect(failureOf(edit)).toMatch(message);
    expect(registered).toEqual([]);
  });

  it("lists every problem in one message", () => {
    const message = failureOf((s, c) => {
      s.hetzner.location = "fra9";
      delete s.hetzner.sshKey;
      delete c["serverpark:registryPassword"];
    });
    expect(message).toMatch(/has 3 problems \(nothing was deployed\)/);
    expect(registered).toEqual([]);
  });

  // Last: this one succeeds and registers resources.
  it("uploads the SSH public key when the stack gives one instead of a key name", async () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ2Vn3r6fixturefixturefixturefixturefixture ops@example";
    const spec = structuredClone(stackFile.config["serverpark:datacenter"]) as any;
    spec.hetzner.sshKey = { publicKey: key };
    pulumi.runtime.setAllConfig({
      "serverpark:target": "hetzner",
      "serverpark:datacenter": JSON.stringify(spec),
      "serverpark:registryPassword": REGISTRY_PASSWORD,
    });
    runProgram();
    await pulumi.runtime.disconnect();
    const uploaded = [...inputsOf].filter(([k]) => k.startsWith("hcloud:index/sshKey:SshKey "));
    expect(uploaded.map(([, v]) => v.publicKey)).toEqual([key]);
    const servers = [...inputsOf].filter(([k]) => k.startsWith("hcloud:index/server:Server "));
    expect(servers.length).toBe(spec.hosts.length);
    const keyId = String(registered.indexOf(`hcloud:index/sshKey:SshKey ${uploaded[0]![0].split(" ")[1]}`) + 1);
    for (const [, v] of servers) expect(v.sshKeys).toEqual([keyId]);
  });
});
