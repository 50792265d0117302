/**
 * The pack as CrossGuard loads it: `pulumi preview --policy-pack policies` starts the pack
 * with @pulumi/pulumi's run-policy-pack (ts-node, policies/tsconfig.json) and talks to its
 * analyzer over gRPC. This test does the same without the Pulumi CLI: it starts that runner on
 * policies/, reads the port it prints, and asks the server for its policies and to analyze the
 * recorded resources of a broken variant of the local stack (which itself has no violation) —
 * which must give the in-process evaluator's results.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlsOf } from "../../policies/lib/policy";
import { POLICIES } from "../../policies/rules";
import { checkStack, type StackCheck } from "../../components/compliance/check";
import { evaluatePolicies } from "../../components/compliance/evaluate";
import { analyzedResources, analyzeRequest, analyzeStackRequest, diagnostics, type Diagnostic } from "./crossguard";
import { fixtureStack, loadFixture } from "./stacks";

const grpc = require("@grpc/grpc-js");
const { AnalyzerClient } = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const { Empty } = require("google-protobuf/google/protobuf/empty_pb");

const ROOT = join(__dirname, "..", "..");
let child: ChildProcess;
let client: any;
let broken: StackCheck;

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
  // The local stack with one db replica on single-fed h3 (sp-101, a stack policy) and the db on
  // the internet network (sp-302, which judges the spec and the containers).
  const stack = fixtureStack(loadFixture("single-db.yaml"), loadFixture("db-on-internet.yaml"));
  const [port, check] = await Promise.all([startPack(), checkStack(stack)]);
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  broken = check;
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

  it("analyzes a broken variant of the local stack exactly as the in-process evaluator does", async () => {
    const served: Diagnostic[] = [];
    for (const r of analyzedResources(broken.resources)) {
      served.push(...diagnostics(await rpc("analyze", analyzeRequest(r))).map((d) => ({ ...d, urn: d.urn || r.urn })));
    }
    served.push(...diagnostics(await rpc("analyzeStack", analyzeStackRequest(broken.resources))));
    const ours = await evaluatePolicies(POLICIES, broken.resources, { packEnforcementLevel: "mandatory" });
    const key = (d: { policy: string; message: string; urn?: string; level: string }) => `${d.level} ${d.policy} ${d.urn ?? ""} ${d.message}`;
    expect(served.map(key).sort()).toEqual(ours.violations.map((v) => key({ ...v, level: v.enforcementLevel })).sort());
    expect(served.map((d) => d.policy)).toEqual(expect.arrayContaining(["sp-101-power-path-survives-feed-loss", "sp-302-backends-off-internet"]));
  });
});
