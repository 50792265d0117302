/**
 * Runs policies through CrossGuard's own analyzer handlers (`@pulumi/policy/server`'s
 * `makeAnalyzeRpcFun` / `makeAnalyzeStackRpcFun`, what `pulumi preview --policy-pack` talks to
 * over gRPC) on recorded resources encoded as the engine's protobuf requests — to prove that
 * the in-process evaluator gives the same results. Without policy config or stack tags: those
 * live in the handlers' module state, which only the gRPC `configure` calls set.
 */
import type { SpPolicy } from "../../policies/lib/policy";
import type { RecordedResource } from "../../components/compliance/record";

const server = require("@pulumi/policy/server") as {
  makeAnalyzeRpcFun(pack: string, version: string, level: string, policies: readonly SpPolicy[]): (call: unknown, cb: (err: unknown, res: any) => void) => void;
  makeAnalyzeStackRpcFun(
    pack: string,
    version: string,
    level: string,
    policies: readonly SpPolicy[],
  ): (call: unknown, cb: (err: unknown, res: any) => void) => void;
};
const pb = require("@pulumi/pulumi/proto/analyzer_pb");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");

export interface Diagnostic {
  readonly policy: string;
  readonly message: string;
  readonly urn: string;
  readonly level: string;
}

const LEVELS = ["advisory", "mandatory", "disabled", "remediate"];

function options(r: RecordedResource) {
  const o = new pb.AnalyzerResourceOptions();
  o.setProtect(r.options.protect);
  o.setIgnorechangesList(r.options.ignoreChanges);
  o.setAliasesList(r.options.aliases);
  o.setAdditionalsecretoutputsList(r.options.additionalSecretOutputs);
  if (r.options.deleteBeforeReplace !== undefined) {
    o.setDeletebeforereplacedefined(true);
    o.setDeletebeforereplace(r.options.deleteBeforeReplace);
  }
  if (r.options.parent) o.setParent(r.options.parent);
  return o;
}

function provider(r: RecordedResource) {
  if (!r.provider) return undefined;
  const p = new pb.AnalyzerProviderResource();
  p.setType(r.provider.type);
  p.setName(r.provider.name);
  p.setUrn(r.provider.urn);
  p.setProperties(Struct.fromJavaScript({}));
  return p;
}

/** Diagnostics of an `AnalyzeResponse`. */
export function diagnostics(res: any): Diagnostic[] {
  return res
    .getDiagnosticsList()
    .map((d: any) => ({ policy: d.getPolicyname(), message: d.getMessage(), urn: d.getUrn(), level: LEVELS[d.getEnforcementlevel()]! }));
}

function call(fn: (call: unknown, cb: (err: unknown, res: any) => void) => void, request: unknown): Promise<Diagnostic[]> {
  return new Promise((resolve, reject) => fn({ request }, (err, res) => (err ? reject(err) : resolve(diagnostics(res)))));
}

/** Resources the engine sends to `Analyze` one by one (not the stack itself, not providers). */
export const analyzedResources = (resources: readonly RecordedResource[]) =>
  resources.filter((r) => !r.type.startsWith("pulumi:providers:") && r.type !== "pulumi:pulumi:Stack");

/** `Analyze` request: one resource with its inputs. */
export function analyzeRequest(r: RecordedResource) {
  return describe(new pb.AnalyzeRequest(), r, r.inputs);
}

/** `AnalyzeStack` request: every resource with its outputs, parent and dependencies. */
export function analyzeStackRequest(resources: readonly RecordedResource[]) {
  const req = new pb.AnalyzeStackRequest();
  req.setResourcesList(
    resources.map((r) => {
      const a = describe(new pb.AnalyzerResource(), r, r.outputs);
      if (r.options.parent) a.setParent(r.options.parent);
      a.setDependenciesList(r.dependencies);
      return a;
    }),
  );
  return req;
}

function describe(message: any, r: RecordedResource, properties: Record<string, unknown>) {
  message.setType(r.type);
  message.setName(r.name);
  message.setUrn(r.urn);
  message.setProperties(Struct.fromJavaScript(properties));
  message.setOptions(options(r));
  const p = provider(r);
  if (p) message.setProvider(p);
  return message;
}

/** Every resource through `Analyze` (inputs), then the whole stack through `AnalyzeStack` (outputs). */
export async function crossGuard(policies: readonly SpPolicy[], resources: readonly RecordedResource[]): Promise<Diagnostic[]> {
  const analyze = server.makeAnalyzeRpcFun("pack", "0.0.0", "mandatory", policies);
  const analyzeStack = server.makeAnalyzeStackRpcFun("pack", "0.0.0", "mandatory", policies);
  const out: Diagnostic[] = [];
  for (const r of analyzedResources(resources)) {
    // The handler reports a resource policy's violations without a URN; the engine adds it.
    out.push(...(await call(analyze, analyzeRequest(r))).map((d) => ({ ...d, urn: d.urn || r.urn })));
  }
  out.push(...(await call(analyzeStack, analyzeStackRequest(resources))));
  return out;
}
