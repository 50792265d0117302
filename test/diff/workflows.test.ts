/**
 * The GitHub workflows: valid YAML using real actions, the preview/comment/deploy steps the
 * issue asks for, and the comment upsert run against a fake GitHub API that pages its
 * comments 100 at a time (the marker may sit on any page; matrix jobs of other stacks must
 * never be touched).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { commentMarker } from "../../components/diff/comment";
import { ROOT } from "./cases";

const load = createRequire(__filename);
const upsert = load(join(ROOT, ".github", "scripts", "upsert-comment.js")) as (args: {
  github: unknown;
  context: unknown;
  body: string;
  log?: (l: string) => void;
}) => Promise<{ action: string; id: number; removed: number[] }>;
const { listStacks } = load(join(ROOT, ".github", "scripts", "list-stacks.js")) as { listStacks: (root: string, o?: { autoDeploy?: boolean }) => string[] };

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
}
interface Job {
  needs?: string[];
  if?: string;
  strategy?: { matrix: Record<string, unknown> };
  steps: Step[];
  env?: Record<string, string>;
  concurrency?: unknown;
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

function workflow(name: string): Workflow {
  const doc = parseDocument(readFileSync(join(ROOT, ".github", "workflows", name), "utf8"), { uniqueKeys: true });
  expect(doc.errors, `${name} is valid YAML`).toEqual([]);
  return doc.toJS() as Workflow;
}

/** Actions that exist, at their current major versions. */
const KNOWN_ACTIONS = /^(actions\/checkout@v4|actions\/setup-node@v4|actions\/github-script@v7|pulumi\/actions@v6)$/;

describe("workflows", () => {
  const preview = workflow("preview.yml");
  const deploy = workflow("deploy.yml");

  it("use only real actions, pinned to a major version", () => {
    for (const wf of [preview, deploy]) {
      for (const [id, job] of Object.entries(wf.jobs)) {
        expect(job.steps.length, id).toBeGreaterThan(0);
        for (const step of job.steps) {
          expect(Boolean(step.uses) !== Boolean(step.run), `${id}: a step either uses an action or runs a command`).toBe(true);
          if (step.uses) expect(step.uses, id).toMatch(KNOWN_ACTIONS);
        }
      }
    }
  });

  it("preview: on pull requests, tests first, then per stack preview + policy + comment", () => {
    expect(Object.keys(preview.on)).toEqual(["pull_request"]);
    expect(preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    const job = preview.jobs.preview!;
    expect(job.needs).toEqual(["test", "stacks"]);
    expect(job.strategy!.matrix.stack).toBe("${{ fromJSON(needs.stacks.outputs.stacks) }}");
    const runs = job.steps.map((s) => s.run ?? "").join("\n");
    expect(runs).toContain(
      'pulumi preview --stack "$STACK" --diff --json --policy-pack policies --policy-pack-config "policies/config/$STACK.json" > preview.json',
    );
    expect(runs).toContain('npx serverpark policy "$STACK" --json --config "policies/config/$STACK.json" > policy.json');
    expect(runs).toContain('npx serverpark pr-comment --git "origin/$BASE_REF..HEAD" "$STACK"');
    expect(job.steps.find((s) => s.uses === "actions/checkout@v4")!.with).toEqual({ "fetch-depth": 0 });
    const script = job.steps.find((s) => s.uses === "actions/github-script@v7")!.with!.script as string;
    expect(script).toContain(".github/scripts/upsert-comment.js");
    expect(preview.jobs.test!.steps.some((s) => s.run === "npm test")).toBe(true);
    // The comment is posted before anything can fail the job (validation, a failed preview).
    const names = job.steps.map((s) => s.name ?? s.uses ?? s.run);
    expect(names.indexOf("Create or update the stack's comment")).toBeLessThan(names.indexOf("Validate the stack"));
    expect(names.indexOf("Validate the stack")).toBeLessThan(names.indexOf("Fail when the preview failed"));
    // Secrets come from repository secrets, never from the workflow text.
    expect(job.env!.PULUMI_ACCESS_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
    expect(job.env!.HCLOUD_TOKEN).toBe("${{ secrets.HCLOUD_TOKEN }}");
  });

  it("deploy: on main, pulumi up per auto-deploy stack, one at a time per stack", () => {
    expect(deploy.on).toMatchObject({ push: { branches: ["main"] } });
    const job = deploy.jobs.deploy!;
    expect(job.needs).toEqual(["test", "stacks"]);
    expect(job.concurrency).toEqual({ group: "deploy-${{ matrix.stack }}", "cancel-in-progress": false });
    expect(job.steps.map((s) => s.run ?? "").join("\n")).toContain(
      'pulumi up --stack "$STACK" --yes --policy-pack policies --policy-pack-config "policies/config/$STACK.json"',
    );
    expect(deploy.jobs.stacks!.steps.map((s) => s.run ?? "").join("\n")).toContain("list-stacks.js --auto-deploy");
  });

  it("pass the stack's policy config wherever they run the policy pack, and every stack has one", () => {
    const CONFIG = '"policies/config/$STACK.json"';
    const names = readdirSync(join(ROOT, ".github", "workflows")).filter((f) => /\.ya?ml$/.test(f));
    expect(names.sort()).toEqual(["deploy.yml", "preview.yml"]);
    let runs = 0;
    for (const name of names) {
      for (const [id, job] of Object.entries(workflow(name).jobs)) {
        for (const line of job.steps.flatMap((s) => (s.run ?? "").split("\n"))) {
          const pack = /\bpulumi (preview|up)\b.*--policy-pack\b/.test(line);
          const ours = /\bserverpark policy\b/.test(line);
          if (!pack && !ours) continue;
          runs += 1;
          expect(line, `${name} ${id}`).toContain(pack ? `--policy-pack-config ${CONFIG}` : `--config ${CONFIG}`);
          // $STACK is the job's matrix stack, the one whose config file is named.
          expect(job.env?.STACK, `${name} ${id}`).toBe("${{ matrix.stack }}");
        }
      }
    }
    expect(runs).toBe(3); // preview: pulumi preview and serverpark policy; deploy: pulumi up
    // Pulumi refuses a --policy-pack-config file that does not exist: every stack CI runs needs one.
    for (const stack of listStacks(ROOT)) {
      const config = JSON.parse(readFileSync(join(ROOT, "policies", "config", `${stack}.json`), "utf8")) as unknown;
      expect(typeof config === "object" && config !== null && !Array.isArray(config), `policies/config/${stack}.json is an object`).toBe(true);
    }
  });

  it("the inline github-script runs: it reads comment.md and upserts through the script", async () => {
    const script = preview.jobs.preview!.steps.find((s) => s.uses === "actions/github-script@v7")!.with!.script as string;
    const dir = mkdtempSync(join(tmpdir(), "sp-gh-script-"));
    const cwd = process.cwd();
    const workspace = process.env.GITHUB_WORKSPACE;
    try {
      const body = `${commentMarker("local")}\nhello\n`;
      writeFileSync(join(dir, "comment.md"), body);
      process.chdir(dir);
      process.env.GITHUB_WORKSPACE = ROOT;
      const gh = fakeGithub([]);
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
      await new AsyncFunction("github", "context", "core", "require", script)(gh, CONTEXT, { info: () => {} }, load);
      expect(gh.comments.map((c) => c.body)).toEqual([body]);
    } finally {
      process.chdir(cwd);
      if (workspace === undefined) delete process.env.GITHUB_WORKSPACE;
      else process.env.GITHUB_WORKSPACE = workspace;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const CONTEXT = { repo: { owner: "park", repo: "serverpark" }, issue: { number: 7 } };

interface FakeComment {
  id: number;
  body: string;
}

/** Enough of Octokit for the upsert: paginated listComments, create/update/delete. */
function fakeGithub(initial: FakeComment[]) {
  const comments = [...initial];
  const calls: string[] = [];
  let nextId = 10_000;
  const listComments = async ({ page = 1, per_page = 30 }: { page?: number; per_page?: number }) => {
    calls.push(`list page ${page}`);
    return { data: comments.slice((page - 1) * per_page, page * per_page) };
  };
  return {
    comments,
    calls,
    // Like Octokit's paginate: follow pages until one comes back short.
    paginate: async (fn: typeof listComments, params: { per_page?: number }) => {
      const all: FakeComment[] = [];
      for (let page = 1; page <= 1000; page++) {
        const { data } = await fn({ ...params, page });
        all.push(...data);
        if (data.length < (params.per_page ?? 30)) break;
      }
      return all;
    },
    rest: {
      issues: {
        listComments,
        createComment: async ({ body }: { body: string }) => {
          calls.push("create");
          const c = { id: nextId++, body };
          comments.push(c);
          return { data: c };
        },
        updateComment: async ({ comment_id, body }: { comment_id: number; body: string }) => {
          calls.push(`update ${comment_id}`);
          comments.find((c) => c.id === comment_id)!.body = body;
          return { data: {} };
        },
        deleteComment: async ({ comment_id }: { comment_id: number }) => {
          calls.push(`delete ${comment_id}`);
          comments.splice(
            comments.findIndex((c) => c.id === comment_id),
            1,
          );
          return { data: {} };
        },
      },
    },
  };
}

const chatter = (n: number, from = 1): FakeComment[] => Array.from({ length: n }, (_, i) => ({ id: from + i, body: `comment ${from + i}` }));

describe("comment upsert", () => {
  const local = (text: string) => `${commentMarker("local")}\n${text}\n`;
  const hetzner = (text: string) => `${commentMarker("hetzner")}\n${text}\n`;

  it("creates the comment when no page holds the marker", async () => {
    const gh = fakeGithub(chatter(230));
    const r = await upsert({ github: gh, context: CONTEXT, body: local("v1") });
    expect(r.action).toBe("created");
    expect(gh.calls).toEqual(["list page 1", "list page 2", "list page 3", "create"]);
  });

  it("finds the marker on the third page and edits that comment in place", async () => {
    const gh = fakeGithub([...chatter(250), { id: 900, body: local("v1") }, { id: 901, body: hetzner("other stack") }]);
    const r = await upsert({ github: gh, context: CONTEXT, body: local("v2") });
    expect(r).toEqual({ action: "updated", id: 900, removed: [] });
    expect(gh.comments.find((c) => c.id === 900)!.body).toBe(local("v2"));
    expect(gh.comments.find((c) => c.id === 901)!.body).toBe(hetzner("other stack"));
    expect(gh.calls.filter((c) => c.startsWith("create"))).toEqual([]);
  });

  it("leaves an unchanged comment alone, and ignores comments that only quote the marker", async () => {
    const quoted = { id: 5, body: `> ${commentMarker("local")}\nwhy did this change?` };
    const gh = fakeGithub([quoted, { id: 6, body: local("same") }]);
    expect(await upsert({ github: gh, context: CONTEXT, body: local("same") })).toEqual({ action: "unchanged", id: 6, removed: [] });
    expect(gh.calls).toEqual(["list page 1"]);
  });

  it("keeps one comment per stack: copies left by a race are deleted, the oldest is edited", async () => {
    const gh = fakeGithub([{ id: 3, body: local("a") }, ...chatter(120, 10), { id: 400, body: local("b") }]);
    const r = await upsert({ github: gh, context: CONTEXT, body: local("c") });
    expect(r).toEqual({ action: "updated", id: 3, removed: [400] });
    expect(gh.comments.filter((c) => c.body.startsWith(commentMarker("local")))).toHaveLength(1);
  });

  it("two stacks in parallel each end with their own comment", async () => {
    const gh = fakeGithub(chatter(150));
    await Promise.all([upsert({ github: gh, context: CONTEXT, body: local("x") }), upsert({ github: gh, context: CONTEXT, body: hetzner("y") })]);
    await upsert({ github: gh, context: CONTEXT, body: local("x2") });
    const ours = gh.comments.filter((c) => c.body.startsWith("<!-- serverpark-preview"));
    expect(ours.map((c) => c.body).sort()).toEqual([hetzner("y"), local("x2")].sort());
  });

  it("refuses a body without the marker", async () => {
    await expect(upsert({ github: fakeGithub([]), context: CONTEXT, body: "no marker" })).rejects.toThrow(/does not start with a serverpark marker/);
  });
});

describe("stack list for the matrix", () => {
  const dir = mkdtempSync(join(tmpdir(), "sp-stacks-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "stacks"));
  mkdirSync(join(dir, ".github"));
  for (const f of ["Pulumi.local.yaml", "Pulumi.hel1.yaml", "Pulumi.local.lock.json", "README.md"]) writeFileSync(join(dir, "stacks", f), "");

  it("lists every stack config, and only the listed ones for automatic deploys", () => {
    expect(listStacks(dir)).toEqual(["hel1", "local"]);
    expect(listStacks(dir, { autoDeploy: true })).toEqual([]);
    writeFileSync(join(dir, ".github", "auto-deploy-stacks"), "# production\nhel1  # Helsinki\n\n");
    expect(listStacks(dir, { autoDeploy: true })).toEqual(["hel1"]);
    writeFileSync(join(dir, ".github", "auto-deploy-stacks"), "fsn9\n");
    expect(() => listStacks(dir, { autoDeploy: true })).toThrow(/fsn9/);
  });

  it("matches the repository's own stacks", () => {
    expect(listStacks(ROOT)).toContain("local");
    expect(listStacks(ROOT, { autoDeploy: true })).toEqual([]);
  });
});
