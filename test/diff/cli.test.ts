/**
 * `serverpark diff` and `serverpark pr-comment` as a user runs them: the real binary for exit
 * codes and errors, and `--git BASE..HEAD` against a throw-away repository whose history edits
 * a stack (including a stack that is new at HEAD).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { command as diffCommand } from "../../cli/commands/diff";
import { command as prComment } from "../../cli/commands/pr-comment";
import { EXIT } from "../../cli/command";
import { FIXTURES, ROOT, stackPath } from "./cases";

const BIN = join(ROOT, "bin", "serverpark.js");
const NODE = join(ROOT, "node_modules", ".bin", "node");

function cli(args: string[], cwd = ROOT): { code: number; out: string; err: string } {
  const r = spawnSync(NODE, [BIN, ...args], { cwd, encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

async function inProcess(cmd: typeof diffCommand, values: Record<string, unknown>, positionals: string[], cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  let code: number;
  try {
    code = await cmd.run({ values, positionals }, { out: (t) => out.push(t), err: (t) => err.push(t), cwd, interactive: false });
  } catch (e) {
    return { code: -1, out: out.join("\n"), err: (e as Error).message };
  }
  return { code, out: out.join("\n"), err: err.join("\n") };
}

let repo: string;
/** Scratch files of the tests (removed with the repository). */
const scratch = mkdtempSync(join(tmpdir(), "sp-diff-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

beforeAll(() => {
  // A small repository: commit 1 has the local stack and its lock, commit 2 scales www and
  // adds a second stack, so one range shows an edited stack and a new one.
  repo = mkdtempSync(join(tmpdir(), "sp-diff-git-"));
  mkdirSync(join(repo, "stacks"));
  writeFileSync(join(repo, "Pulumi.yaml"), "name: serverpark\nruntime: nodejs\nstackConfigDir: stacks\n");
  copyFileSync(join(FIXTURES, "stacks", "Pulumi.base.yaml"), join(repo, "stacks", "Pulumi.local.yaml"));
  copyFileSync(join(FIXTURES, "stacks", "Pulumi.base.lock.json"), join(repo, "stacks", "Pulumi.local.lock.json"));
  git("init", "-q", "-b", "main");
  git("-c", "user.name=t", "-c", "user.email=t@example.test", "add", ".");
  git("-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-q", "-m", "base");
  copyFileSync(join(FIXTURES, "stacks", "Pulumi.scaled.yaml"), join(repo, "stacks", "Pulumi.local.yaml"));
  copyFileSync(join(FIXTURES, "stacks", "Pulumi.host-added.yaml"), join(repo, "stacks", "Pulumi.edge2.yaml"));
  git("add", ".");
  git("-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-q", "-m", "head");
  // The working tree differs from both commits: --git must read the refs, not the files.
  writeFileSync(join(repo, "stacks", "Pulumi.local.yaml"), "config: {}\n");
});
afterAll(() => rmSync(repo, { recursive: true, force: true }));

describe("serverpark diff", () => {
  // The real binary: three runs only (each starts tsx and loads every command).
  it("prints the datacenter diff of two config files (real binary)", { timeout: 120_000 }, () => {
    const r = cli(["diff", stackPath("base"), stackPath("scaled")]);
    expect(r.err).toBe("");
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain("~ www: replicas 2 → 3, new replica www-2 on h2");
  });

  it("exits 2 on a usage error and 1 on a spec problem, located in the file (real binary)", { timeout: 120_000 }, () => {
    const usage = cli(["diff", stackPath("base")]);
    expect(usage.code).toBe(EXIT.usage);
    expect(usage.err).toContain("give two stack config files");
    const bad = join(scratch, "Pulumi.bad.yaml");
    writeFileSync(
      bad,
      readFileSync(join(FIXTURES, "stacks", "Pulumi.base.yaml"), "utf8").replace(
        "replicas: 2, plan: vps-s, networks: [private]",
        "replicas: 2, plan: vps-xl, networks: [private]",
      ),
    );
    const r = cli(["diff", stackPath("base"), bad]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(/Pulumi\.bad\.yaml:\d+:\d+: serverpark:datacenter\.services\[0\]\.plan: /);
  });

  it("prints JSON with --json", async () => {
    const r = await inProcess(diffCommand, { json: true }, [stackPath("base"), stackPath("host-removed")], ROOT);
    expect(r.code).toBe(EXIT.ok);
    const json = JSON.parse(r.out);
    expect(json.stack).toBe("host-removed");
    expect(json.moves.map((m: { replica: string }) => m.replica).sort()).toEqual(["edge-1", "files-0"]);
  });

  it("says which file is missing", async () => {
    const r = await inProcess(diffCommand, {}, [stackPath("base"), "stacks/Pulumi.nope.yaml"], ROOT);
    expect(r.err).toContain("stack config file not found: stacks/Pulumi.nope.yaml");
  });

  it("--git BASE..HEAD reads the stack and its lock at both refs", async () => {
    const r = await inProcess(diffCommand, { git: "HEAD~1..HEAD" }, ["local"], repo);
    expect(r.err).toBe("");
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain("HEAD~1:stacks/Pulumi.local.yaml → HEAD:stacks/Pulumi.local.yaml");
    expect(r.out).toContain("~ www: replicas 2 → 3, new replica www-2 on h2");
  });

  it("--git treats a stack missing at the base as new", async () => {
    const r = await inProcess(diffCommand, { git: "HEAD~1..HEAD", json: true }, ["stacks/Pulumi.edge2.yaml"], repo);
    expect(r.code).toBe(EXIT.ok);
    const json = JSON.parse(r.out);
    expect(json.datacenter).toEqual({ after: "fra1" });
    expect(json.changes.some((c: { summary: string }) => c.summary.startsWith("+ host h8 in rack r2 on feeds A+B"))).toBe(true);
  });

  it("--git explains bad ranges and unknown refs", async () => {
    expect((await inProcess(diffCommand, { git: "HEAD" }, ["local"], repo)).err).toContain("--git expects BASE..HEAD");
    expect((await inProcess(diffCommand, { git: "nope..HEAD" }, ["local"], repo)).err).toContain('"nope" is not a commit');
    expect((await inProcess(diffCommand, { git: "HEAD~1..HEAD" }, ["local", "extra"], repo)).err).toContain("exactly one stack");
  });
});

describe("serverpark pr-comment", () => {
  it("renders the comment for a git range with preview and policy input, to a file", async () => {
    const out = join(repo, "comment.md");
    const r = await inProcess(
      prComment,
      { git: "HEAD~1..HEAD", preview: join(FIXTURES, "preview", "scaled.json"), policy: join(FIXTURES, "policy", "violations.json"), out },
      ["local"],
      repo,
    );
    expect(r.code).toBe(EXIT.ok);
    expect(r.err).toMatch(/comment\.md: \d+ characters/);
    const md = readFileSync(out, "utf8");
    expect(md.split("\n")[0]).toBe("<!-- serverpark-preview stack=local -->");
    expect(md).toContain("**Resources:** 1 to create, 4 to update, 0 to replace, 0 to delete");
    expect(md).toContain("**Policy:** 2 violations (1 mandatory)");
    expect(md).toContain("- create `docker:index/container:Container` `fra1-svc-www-2`");
  });

  it("still comments when the base cannot be planned with the head's code, and says why", async () => {
    // A base written for an older schema: a key the current schema does not know.
    const old = join(scratch, "Pulumi.old.yaml");
    writeFileSync(
      old,
      readFileSync(join(FIXTURES, "stacks", "Pulumi.base.yaml"), "utf8").replace(
        "    cpuOvercommit: 4\n",
        "    cpuOvercommit: 4\n    legacyPowerModel: true\n",
      ),
    );
    const r = await inProcess(prComment, { preview: join(FIXTURES, "preview", "scaled.json") }, [old, stackPath("scaled")], ROOT);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain("**Datacenter:** no diff");
    expect(r.out).toMatch(
      /\*\*Warning:\*\* no datacenter diff: the base \(.*Pulumi\.old\.yaml\) cannot be planned with this change's code — .*legacyPowerModel/,
    );
    expect(r.out).toContain("- create `docker:index/container:Container` `fra1-svc-www-2`");
    // `serverpark diff` itself does not guess: the base must be valid.
    expect((await inProcess(diffCommand, {}, [old, stackPath("scaled")], ROOT)).code).toBe(EXIT.invalid);
  });

  it("rejects input that is not a preview, with exit code 1, and a silly size limit as a usage error", async () => {
    writeFileSync(join(scratch, "p.json"), "Previewing update (local):\n");
    const r = await inProcess(prComment, { preview: join(scratch, "p.json") }, [stackPath("base"), stackPath("scaled")], ROOT);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toContain("p.json is not JSON");
    const bad = await inProcess(prComment, { "max-chars": "12" }, [stackPath("base"), stackPath("scaled")], ROOT);
    expect(bad.err).toContain("--max-chars must be an integer from 2000 to 65536");
  });
});
