/**
 * The pack as CrossGuard loads it: `pulumi preview --policy-pack policies` starts the pack
 * with @pulumi/pulumi's run-policy-pack (ts-node, policies/tsconfig.json) and talks to its
 * analyzer over gRPC. This test does the same without the Pulumi CLI: it starts that runner on
 * policies/, reads the port it prints, and asks the server for its policies and to analyze the
 * local stack's recorded resources — which must give the in-process evaluator's results.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/spec/load";
import { controlsOf } from "../../policies/lib/policy";
import { POLICIES } from "../../policies/rules";
import { checkStack, type StackCheck } from "../../components/compliance/check";
import { evaluatePolicies } from "../../components/compliance/evaluate";
import { analyzedResources, analyzeRequest, analyzeStackRequest, diagnostics, type Diagnostic } from "./crossguard";

const grpc = require("@grpc/grpc-js");
const { AnalyzerClient } = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const { Empty } = require("google-protobuf/google/protobuf/empty_pb");

const ROOT = join(__dirname, "..", "..");
let child: ChildProcess;
let client: any;
let local: StackCheck;

function startPack(): Promise<number> {
  // The engine address is unused by a policy pack; run-policy-pack only requires one.
  child = spawn(join(ROOT, "node_modules", ".bin", "node"), [join(ROOT, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack"), "127.0.0.1:1", "."], {
    cwd: join(ROOT, "policies"),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the pack did not start in 240 s: ${err}`)), 240_000);
    child.stdout!.once("data", (d) => {
      clearTimeout(timer);
      resolve(Number(String(d).trim()));
    });
    child.once("exit", (code) => reject(new Error(`the pack exited with ${code}: ${err}`)));
  });
}

const rpc = <T>(method: string, request: unknown): Promise<T> =>
  new Promise((resolve, reject) => client[method](request, (e: unknown, res: T) => (e ? reject(e) : resolve(res))));

beforeAll(async () => {
  const [port, check] = await Promise.all([startPack(), checkStack(loadStackFile("local"))]);
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  local = check;
}, 300_000);

afterAll(() => {
  client?.close();
  if (child && child.exitCode === null) child.kill();
});

describe("the pack under CrossGuard's runner", () => {
  it("serves every policy with its Annex A framework, severity and remediation", async () => {
    const info: any = await rpc("getAnalyzerInfo", new Empty());
    expect(info.getName()).toBe("serverpark-iso27001");
    const served = new Map<string, any>(info.getPoliciesList().map((p: any) => [p.getName(), p]));
    expect([...served.keys()].sort()).toEqual(POLICIES.map((p) => p.name).sort());
    for (const p of POLICIES) {
      const s = served.get(p.name)!;
      expect(s.getFramework().getName()).toBe("iso27001");
      expect(s.getFramework().getSpecification()).toBe(p.framework!.specification);
      expect(s.getTagsList()).toEqual(expect.arrayContaining(controlsOf(p)));
      expect(s.getRemediationSteps()).toBe(p.remediationSteps);
    }
  });

  it("analyzes the local stack exactly as the in-process evaluator does", async () => {
    const served: Diagnostic[] = [];
    for (const r of analyzedResources(local.resources)) {
      served.push(...diagnostics(await rpc("analyze", analyzeRequest(r))).map((d) => ({ ...d, urn: d.urn || r.urn })));
    }
    served.push(...diagnostics(await rpc("analyzeStack", analyzeStackRequest(local.resources))));
    const ours = await evaluatePolicies(POLICIES, local.resources, { packEnforcementLevel: "mandatory" });
    const key = (d: { policy: string; message: string; urn?: string; level: string }) => `${d.level} ${d.policy} ${d.urn ?? ""} ${d.message}`;
    expect(served.map(key).sort()).toEqual(ours.violations.map((v) => key({ ...v, level: v.enforcementLevel })).sort());
    expect(served.map((d) => d.policy)).toContain("sp-101-power-path-survives-feed-loss");
  });
});
