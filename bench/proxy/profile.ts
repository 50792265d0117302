/**
 * Where the proxy's CPU goes, from a `node --cpu-prof` profile of its bundle: each sample's
 * self time by category. The bundle is one file, so the category of a JavaScript frame comes
 * from the `// node_modules/<package>/…` and `// images/…` comments esbuild writes above each
 * module; native frames are named (the write system calls, the garbage collector, idle).
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The module each line of the bundle belongs to (line number of each `// path` comment, ascending). */
function moduleStarts(bundle: string): { line: number; module: string }[] {
  const starts: { line: number; module: string }[] = [];
  bundle.split("\n").forEach((text, line) => {
    const m = /^\/\/ (node_modules\/(?:@[^/]+\/)?[^/]+|images\/[^/]+|contracts)\//.exec(text);
    if (m) starts.push({ line, module: m[1]! });
  });
  return starts;
}

function moduleAt(starts: readonly { line: number; module: string }[], line: number): string {
  let lo = 0;
  let hi = starts.length - 1;
  let found = "bundle (unattributed)";
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]!.line <= line) {
      found = starts[mid]!.module;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const WRITES = new Set(["writev", "writeLatin1String", "writeUtf8String", "writeBuffer", "writeAsciiString"]);

function category(frame: ProfileNode["callFrame"], bundleUrl: string, starts: readonly { line: number; module: string }[]): string {
  const { functionName, url } = frame;
  if (!url) {
    if (functionName === "(idle)") return "idle (waiting: the machine's other processes, or nothing to do)";
    if (functionName === "(garbage collector)") return "garbage collector";
    if (WRITES.has(functionName)) return "write system calls (client response, upstream request)";
    return `native: ${functionName}`;
  }
  if (url.endsWith(bundleUrl)) {
    const module = moduleAt(starts, frame.lineNumber);
    return module.startsWith("images/") || module === "contracts" ? `our code (${module})` : module;
  }
  if (url.startsWith("node:internal/streams") || url.startsWith("node:stream")) return "node: streams";
  if (url.startsWith("node:_http") || url.startsWith("node:internal/http")) return "node: http server";
  if (url.startsWith("node:") || url.startsWith("wasm:")) return url.startsWith("wasm:") ? "undici's llhttp (wasm)" : "node: other internals";
  return url;
}

/** Self time by category, largest first, as shares of all samples. */
export function summarize(profileFile: string, bundleFile: string): { category: string; share: number }[] {
  const profile = JSON.parse(readFileSync(profileFile, "utf8")) as CpuProfile;
  const starts = moduleStarts(readFileSync(bundleFile, "utf8"));
  const bundleUrl = bundleFile.split("/").pop()!;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const time = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const c = category(byId.get(id)!.callFrame, bundleUrl, starts);
    time.set(c, (time.get(c) ?? 0) + delta);
    total += delta;
  });
  return [...time].map(([c, t]) => ({ category: c, share: t / total })).sort((a, b) => b.share - a.share);
}
