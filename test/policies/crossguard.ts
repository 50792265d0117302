/**
 * Runs policies through CrossGuard's own analyzer handlers (`@pulumi/policy/server`'s
 * `makeAnalyzeRpcFun` / `makeAnalyzeStackRpcFun`, what `pulumi preview --policy-pack` talks to
 * over gRPC) on recorded resources encoded as the engine's protobuf requests — to prove that
 * the in-process evaluator gives the same results. Without policy config or stack tags: those
 * live in the handlers' module state, which only the gRPC `configure` calls set.
 */
import type { SpPolicy } from "../../policies/lib/policy";
import type { RecordedResource } from "../../policies/runtime/record";

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

function call(fn: (call: unknown, cb: (err: unknown, res: any) => void) => void, request: unknown): Promise<Diagnostic[]> {
  return new Promise((resolve, reject) =>
    fn({ request }, (err, res) => {
      if (err) return reject(err);
      resolve(
        res
          .getDiagnosticsList()
          .map((d: any) => ({ policy: d.getPolicyname(), message: d.getMessage(), urn: d.getUrn(), level: LEVELS[d.getEnforcementlevel()]! })),
      );
    }),
  );
}

/** Every resource through `Analyze` (inputs), then the whole stack through `AnalyzeStack` (outputs). */
export async function crossGuard(policies: readonly SpPolicy[], resources: readonly RecordedResource[]): Promise<Diagnostic[]> {
  const analyze = server.makeAnalyzeRpcFun("pack", "0.0.0", "mandatory", policies);
  const analyzeStack = server.makeAnalyzeStackRpcFun("pack", "0.0.0", "mandatory", policies);
  const out: Diagnostic[] = [];
  const analyzed = resources.filter((r) => !r.type.startsWith("pulumi:providers:") && r.type !== "pulumi:pulumi:Stack");
  for (const r of analyzed) {
    const req = new pb.AnalyzeRequest();
    req.setType(r.type);
    req.setName(r.name);
    req.setUrn(r.urn);
    req.setProperties(Struct.fromJavaScript(r.inputs));
    req.setOptions(options(r));
    const p = provider(r);
    if (p) req.setProvider(p);
    // The handler reports a resource policy's violations without a URN; the engine adds it.
    out.push(...(await call(analyze, req)).map((d) => ({ ...d, urn: d.urn || r.urn })));
  }
  const stackReq = new pb.AnalyzeStackRequest();
  stackReq.setResourcesList(
    resources.map((r) => {
      const a = new pb.AnalyzerResource();
      a.setType(r.type);
      a.setName(r.name);
      a.setUrn(r.urn);
      a.setProperties(Struct.fromJavaScript(r.outputs));
      a.setOptions(options(r));
      if (r.options.parent) a.setParent(r.options.parent);
      a.setDependenciesList(r.dependencies);
      const p = provider(r);
      if (p) a.setProvider(p);
      return a;
    }),
  );
  out.push(...(await call(analyzeStack, stackReq)));
  return out;
}
