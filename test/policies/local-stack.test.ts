/**
 * The real stacks, recorded under Pulumi's mocks: the local stack passes every mandatory
 * policy (under its policy config, policies/config/local.json); CrossGuard's own analyzer
 * handlers agree with the in-process evaluator on every diagnostic; and a Pulumi secret in
 * stack config stays marked as one through the recording, and unwrapped for policies.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/spec/load";
import { POLICIES } from "../../policies/rules";
import { checkStack, type StackCheck } from "../../components/compliance/check";
import { evaluatePolicies } from "../../components/compliance/evaluate";
import { crossGuard } from "./crossguard";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

let local: StackCheck;
let hetzner: StackCheck;
beforeAll(async () => {
  local = await checkStack(loadStackFile("local"));
  // The Hetzner stack needs its registry password; a user sets it with `pulumi config set --secret`.
  const file = loadStackFile("hetzner");
  // As the stack exists after an `up`: its certificates are issued, so each server's user data
  // (which carries them) is known and the containers it starts can be judged.
  const pem = (kind: string) => `-----BEGIN ${kind}-----\nissued-at-up\n-----END ${kind}-----\n`;
  const computed = (type: string) =>
    type === "tls:index/privateKey:PrivateKey"
      ? { privateKeyPem: pem("PRIVATE KEY") }
      : type.startsWith("tls:index/") && type.endsWith("Cert")
        ? { certPem: pem("CERTIFICATE") }
        : type === "tls:index/certRequest:CertRequest"
          ? { certRequestPem: pem("CERTIFICATE REQUEST") }
          : undefined;
  hetzner = await checkStack(
    { ...file, config: { ...file.config, "serverpark:registryPassword": { secure: "v1:bm90LXJlYWxseS1lbmNyeXB0ZWQ=" } } },
    { computed },
  );
});

describe("the local stack", () => {
  it("records the Datacenter with its model, and the Docker resources", () => {
    const dc = local.resources.find((r) => r.type === "serverpark:index:Datacenter")!;
    expect(Object.keys(dc.outputs.model as object).sort()).toEqual(["plan", "spec", "target"]);
    expect(local.resources.filter((r) => r.type === "docker:index/container:Container").length).toBeGreaterThanOrEqual(7);
    const container = local.resources.find((r) => r.type === "docker:index/container:Container")!;
    expect(container.options.parent).toMatch(/serverpark:datacenter:(Host|Service)/);
    expect(container.provider?.type).toBe("pulumi:providers:docker");
  });

  it("passes every mandatory policy under its policy config", () => {
    expect(local.configSource).toBe("policies/config/local.json");
    const mandatory = local.evaluation.violations.filter((v) => v.enforcementLevel === "mandatory");
    expect(mandatory.map((v) => `${v.policy}: ${v.detail}`)).toEqual([]);
  });

  it("evaluates every policy of the pack", () => {
    expect(local.evaluation.outcomes.map((o) => o.policy)).toEqual(POLICIES.map((p) => p.name));
  });

  it("gets the same diagnostics from CrossGuard's own analyzer handlers as from the in-process evaluator", async () => {
    const ours = await evaluatePolicies(POLICIES, local.resources, { packEnforcementLevel: "mandatory" });
    const theirs = await crossGuard(POLICIES, local.resources);
    const key = (d: { policy: string; message: string; urn?: string; level: string }) => `${d.level} ${d.policy} ${d.urn ?? ""} ${d.message}`;
    expect(ours.violations.map((v) => key({ ...v, level: v.enforcementLevel })).sort()).toEqual(theirs.map(key).sort());
    expect(theirs.length).toBeGreaterThan(0);
  });
});

describe("the hetzner stack", () => {
  it("keeps a Pulumi secret marked in the recorded inputs", () => {
    const json = JSON.stringify(hetzner.resources.map((r) => r.inputs));
    expect(json).toContain(SECRET_SIG);
    expect(json).not.toMatch(/registryPassword[^,]*bm90LXJlYWxseS/);
  });

  it("passes every mandatory policy, data residency included", () => {
    expect(hetzner.evaluation.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => `${v.policy}: ${v.detail}`)).toEqual([]);
    const residency = hetzner.evaluation.outcomes.find((o) => o.policy === "sp-501-data-residency")!;
    expect([residency.checked, residency.violations.length]).toEqual([1, 0]);
    // The containers cloud-init starts are judged too (on servers whose userData is known).
    expect(hetzner.evaluation.outcomes.find((o) => o.policy === "sp-201-no-privileged-container")!.checked).toBeGreaterThan(0);
  });
});
