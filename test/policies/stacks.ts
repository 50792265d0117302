/**
 * Runs whole stacks through the real program under Pulumi's mocks and the policy pack, for
 * the local-stack and broken-stack tests. A fixture (test/policies/fixtures/*.yaml) is the
 * local stack with a list of changes to its spec, and optionally stack tags, extra stack
 * config, and changes to the recorded resources (a code change in a target that the spec
 * cannot express, such as a privileged container).
 *
 * The program runs in a scratch project root holding a Dockerfile for every role, so every
 * service deploys whatever images exist in the tree today; the lock is the local stack's.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ROLES } from "../../contracts/roles";
import { loadStackFile, type StackFile } from "../../components/spec/load";
import { HOST_AGENT } from "../../components/targets/docker/images";
import { checkStack, type StackCheck } from "../../components/compliance/check";
import type { PolicyPackConfig } from "../../components/compliance/evaluate";
import { serverparkLabels } from "../../policies/lib/resources";

const REPO = join(__dirname, "..", "..");
export const FIXTURES = join(__dirname, "fixtures");

/** A project root where every role has a Dockerfile (the real one where it exists). */
export function allRolesRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "sp-policies-"));
  for (const f of ["Pulumi.yaml", "package.json"]) copyFileSync(join(REPO, f), join(root, f));
  mkdirSync(join(root, "stacks"));
  copyFileSync(join(REPO, "stacks", "Pulumi.local.lock.json"), join(root, "stacks", "Pulumi.local.lock.json"));
  for (const role of [...ROLES, HOST_AGENT]) {
    mkdirSync(join(root, "images", role), { recursive: true });
    const real = join(REPO, "images", role, "Dockerfile");
    writeFileSync(
      join(root, "images", role, "Dockerfile"),
      existsSync(real) ? readFileSync(real) : `FROM node:24-bookworm-slim\nCOPY dist/ /app/\nUSER node\n`,
    );
  }
  return root;
}

type Segment = string | number | { key: string; value: string };

function parsePath(path: string): Segment[] {
  const out: Segment[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]|\[([\w-]+)=([^\]]+)\]/g)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push({ key: m[3]!, value: m[4]! });
  }
  return out;
}

function step(node: any, seg: Segment): { parent: any; key: string | number } {
  if (typeof seg === "object") {
    const i = (node as any[]).findIndex((x) => String(x?.[seg.key]) === seg.value);
    if (i < 0) throw new Error(`fixture path: no element with ${seg.key}=${seg.value}`);
    return { parent: node, key: i };
  }
  return { parent: node, key: seg };
}

/** `set` / `remove` / `push` at a path such as `services[id=db].backup.targetHost`. */
export function applyPatch(spec: any, ops: readonly Record<string, any>[]): void {
  for (const op of ops) {
    const path = parsePath(op.set ?? op.remove ?? op.push);
    let node = spec;
    for (const seg of path.slice(0, -1)) {
      const { parent, key } = step(node, seg);
      node = parent[key];
    }
    const { parent, key } = step(node, path[path.length - 1]!);
    if ("set" in op) parent[key] = op.value;
    else if ("push" in op) parent[key].push(op.value);
    else if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  }
}

export interface Fixture {
  readonly file: string;
  readonly description: string;
  /** Policy ids that must fail, and no others. */
  readonly expect: readonly string[];
  /**
   * The program itself must refuse the stack before any resource exists, with a message that
   * contains each of these (settings no role accepts are stopped by the role's own schema;
   * the policies behind them are the second line, tested in stack-policies.test.ts).
   */
  readonly refused?: readonly string[];
  readonly patch?: readonly Record<string, any>[];
  /** Extra stack config (`serverpark:protectState: true`). */
  readonly config?: Record<string, unknown>;
  readonly stackTags?: Record<string, string>;
  /** Changes to recorded resources: every resource of `type` (with label role `role`) gets `set`. */
  readonly mutate?: readonly { type: string; role?: string; set: Record<string, unknown> }[];
}

export function loadFixture(name: string): Fixture {
  return { file: name, ...(parse(readFileSync(join(FIXTURES, name), "utf8")) as Omit<Fixture, "file">) };
}

/** The local stack with the compliant fixture's changes (none today: the base is the local stack itself), then the given fixtures', in order. */
export function fixtureStack(...fixtures: (Fixture | undefined)[]): StackFile {
  const local = loadStackFile("local", REPO);
  const spec = structuredClone(local.config["serverpark:datacenter"]);
  applyPatch(spec, loadFixture("compliant.yaml").patch ?? []);
  let config = local.config;
  for (const fixture of fixtures) {
    applyPatch(spec, fixture?.patch ?? []);
    config = { ...config, ...fixture?.config };
  }
  return { ...local, config: { ...config, "serverpark:datacenter": spec } };
}

export async function runFixture(root: string, fixture?: Fixture): Promise<StackCheck> {
  const config: PolicyPackConfig = { "sp-411-pinned-images": { projectRoot: root } };
  return checkStack(fixtureStack(fixture), {
    root,
    config,
    stackTags: fixture?.stackTags ?? {},
    mutate: (resources) => {
      for (const m of fixture?.mutate ?? []) {
        for (const r of resources.filter((x) => x.type === m.type && (m.role === undefined || serverparkLabels(x.inputs).role === m.role))) {
          Object.assign(r.inputs, m.set);
          Object.assign(r.outputs, m.set);
        }
      }
    },
  });
}

/** Distinct ids of the policies a check violated. */
export const failedPolicies = (check: StackCheck): string[] => [...new Set(check.evaluation.violations.map((v) => v.policy))].sort();
