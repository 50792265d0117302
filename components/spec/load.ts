/**
 * Reading stack config files from disk (for the CLI and tests; the Pulumi program gets the
 * same values from the engine). A stack is named either by its name (`local`) or by the path
 * of its config file (`stacks/Pulumi.local.yaml`). YAML errors and spec problems come back as
 * `SpecIssue`s, each with the line in the file where it sits.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import { type ConfigPath, type SpecIssue } from "./issues";

export interface StackFile {
  /** Stack name, from the file name `Pulumi.<stack>.yaml`. */
  readonly stack: string;
  readonly path: string;
  /** The `config:` mapping with plain JS values (`{ secure: … }` entries kept as they are). */
  readonly config: Readonly<Record<string, unknown>>;
  /** 1-based line and column of a path inside `serverpark:datacenter`, when it exists in the file. */
  locate(path: ConfigPath): { line: number; col: number } | undefined;
}

export class StackFileError extends Error {
  constructor(
    message: string,
    readonly issues: readonly SpecIssue[] = [],
  ) {
    super(message);
    this.name = "StackFileError";
  }
}

/** The project root: the nearest folder upwards holding Pulumi.yaml. */
export function findProjectRoot(from = process.cwd()): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, "Pulumi.yaml"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(__dirname, "..", "..");
    dir = parent;
  }
}

/** Resolves `local` or `stacks/Pulumi.local.yaml` (or any path) to a config file path. */
export function resolveStackFile(nameOrPath: string, cwd = process.cwd()): string {
  const direct = resolve(cwd, nameOrPath);
  if (/\.ya?ml$/.test(nameOrPath) || nameOrPath.includes("/")) {
    if (!existsSync(direct)) throw new StackFileError(`stack config file not found: ${nameOrPath}`);
    return direct;
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(nameOrPath)) throw new StackFileError(`"${nameOrPath}" is neither a stack name nor a config file path`);
  const root = findProjectRoot(cwd);
  const file = join(root, "stacks", `Pulumi.${nameOrPath}.yaml`);
  if (!existsSync(file)) {
    throw new StackFileError(
      `no stack "${nameOrPath}": ${relative(cwd, file) || file} does not exist (stacks are named by their file stacks/Pulumi.<stack>.yaml)`,
    );
  }
  return file;
}

export function loadStackFile(nameOrPath: string, cwd = process.cwd()): StackFile {
  const path = resolveStackFile(nameOrPath, cwd);
  return parseStackFile(readFileSync(path, "utf8"), path);
}

export function parseStackFile(text: string, path: string): StackFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { path: [], message: `${path}:${pos.line}:${pos.col}: ${e.message.split("\n")[0]}` };
    });
    throw new StackFileError(`${path} is not valid YAML:\n${issues.map((i) => `  - ${i.message}`).join("\n")}`, issues);
  }
  const root = doc.toJS() as unknown;
  const config = root && typeof root === "object" && "config" in root ? (root as { config: unknown }).config : undefined;
  if (config !== undefined && (config === null || typeof config !== "object" || Array.isArray(config))) {
    throw new StackFileError(`${path}: "config" must be a mapping`);
  }
  const stack = /Pulumi\.([^/\\]+)\.ya?ml$/.exec(path)?.[1] ?? "local";
  return {
    stack,
    path,
    config: (config ?? {}) as Record<string, unknown>,
    locate: (p) => locateIn(doc, lineCounter, ["config", "serverpark:datacenter", ...p]),
  };
}

function locateIn(doc: Document, lc: LineCounter, path: ConfigPath): { line: number; col: number } | undefined {
  // Walk up the path until a node exists: a missing key is reported at its parent.
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node && typeof node === "object" && "range" in node && Array.isArray((node as { range?: unknown }).range)) {
      const pos = lc.linePos((node as { range: [number, number, number] }).range[0]);
      return { line: pos.line, col: pos.col };
    }
    if (isScalar(node) || isMap(node)) break;
  }
  return undefined;
}
