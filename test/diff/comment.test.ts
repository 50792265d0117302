/**
 * The pull-request comment: golden files for every diff case (review a change with
 * `UPDATE_GOLDEN=1 npx vitest run test/diff` and read the diff of fixtures/golden/), the
 * GitHub size limit with a huge change, secrets that must never appear, and stability.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { commentMarker, GITHUB_COMMENT_LIMIT, renderComment, type CommentInput } from "../../components/diff/comment";
import { diffDatacenters } from "../../components/diff/datacenter";
import { parsePolicyViolations } from "../../components/diff/policy";
import { planDatacenter } from "../../components/plan";
import { groupPreview, parsePreview, partNames } from "../../components/diff/preview";
import { renderDiffText } from "../../components/diff/render";
import { CASES, diffOf, FIXTURES, load } from "./cases";

const read = (...p: string[]) => readFileSync(join(FIXTURES, ...p), "utf8");

function inputFor(c: (typeof CASES)[number]): CommentInput {
  const { base, head, diff } = diffOf(c);
  return {
    stack: "local",
    diff,
    base: base.label,
    head: head.label,
    ...(c.preview ? { preview: groupPreview(parsePreview(read("preview", c.preview)), partNames([base.side, head.side])) } : {}),
    ...(c.name === "feed-removed" ? { violations: parsePolicyViolations(read("policy", "violations.json")) } : {}),
    fullCommand: `npx serverpark diff ${base.label} ${head.label}`,
  };
}

function golden(file: string, actual: string): void {
  const path = join(FIXTURES, "golden", file);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) writeFileSync(path, actual);
  expect(actual, `${file} differs from its golden file (UPDATE_GOLDEN=1 rewrites it after review)`).toBe(readFileSync(path, "utf8"));
}

describe("pull-request comment", () => {
  for (const c of CASES) {
    it(`matches the golden comment and text for ${c.name}`, () => {
      const input = inputFor(c);
      const md = renderComment(input);
      expect(md.startsWith(`${commentMarker("local")}\n`)).toBe(true);
      golden(`${c.name}.md`, md);
      golden(`${c.name}.txt`, renderDiffText(input.diff!, `${input.base} → ${input.head}`) + "\n");
    });
  }

  it("says an empty diff is empty", () => {
    const md = renderComment(inputFor(CASES[0]!));
    expect(md).toContain("**Datacenter:** no changes");
    expect(md).toContain("No datacenter changes: the datacenter stays exactly as it is.");
    expect(md).not.toContain("Needs attention");
  });

  it("puts moves, data at risk, redundancy drops and mandatory violations at the top", () => {
    const moved = renderComment(inputFor(CASES.find((c) => c.name === "host-removed")!));
    const top = moved.slice(0, moved.indexOf("#### Datacenter changes"));
    expect(top).toContain("**Replica moves:**");
    expect(top).toContain("**Data at risk:** replaces stateful `docker:index/volume:Volume` `fra1-svc-files-0-data`");
    const feed = renderComment(inputFor(CASES.find((c) => c.name === "feed-removed")!));
    const head = feed.slice(0, feed.indexOf("#### Datacenter changes"));
    expect(head).toContain("**Redundancy drops:** www: survives N-1 → fails on");
    expect(head).toContain("**Mandatory policy violation:** `redundant-services-survive-n-1` (A.8.14)");
    // A pipe in a message must not break the table.
    expect(feed).toContain("fail when feed A fails \\| single feed");
  });

  it("is stable: the same input renders the same text, whatever order the inputs came in", () => {
    const c = CASES.find((x) => x.name === "host-removed")!;
    const a = renderComment(inputFor(c));
    const raw = parsePreview(read("preview", c.preview!));
    const shuffled = { ...raw, steps: [...(raw.steps ?? [])].sort((x, y) => (x.op < y.op ? 1 : -1)) };
    const b = renderComment({ ...inputFor(c), preview: groupPreview(shuffled, partNames([load(c.base!).side, load(c.head).side])) });
    expect(b).toBe(a);
    const v = JSON.parse(read("policy", "violations.json"));
    const once = parsePolicyViolations(JSON.stringify(v));
    const reversed = parsePolicyViolations(JSON.stringify({ violations: [...v.violations].reverse() }));
    expect(reversed).toEqual(once);
  });
});

describe("size limit", () => {
  it("stays under GitHub's limit with a huge change, summary first and the cut announced", () => {
    const base = load("base");
    const spec = structuredClone(base.side!.spec) as any;
    // 300 more hosts and 150 more services: thousands of lines of diff.
    for (let i = 0; i < 300; i++)
      spec.hosts.push({ ...spec.hosts[0], id: `x${i}`, rack: i % 2 ? "r1" : "r2", psus: i % 2 ? ["r1-pdu-a", "r1-pdu-b"] : ["r2-pdu-a", "r2-pdu-b"] });
    for (let i = 0; i < 150; i++) spec.services.push({ ...spec.services[0], id: `site${i}`, replicas: 3 });
    spec.networks[1] = { ...spec.networks[1], cidr: "10.42.16.0/20" };
    spec.networks[2] = { ...spec.networks[2], cidr: "10.42.32.0/20" };
    const plan = planDatacenter(spec, base.side!.plan.lock);
    const diff = diffDatacenters(base.side, { spec, plan });
    const steps = plan.replicas.flatMap((r) => [
      {
        op: "create",
        urn: `urn:pulumi:local::serverpark::serverpark:index:Datacenter$serverpark:datacenter:Service$docker:index/container:Container::fra1-svc-${r.service}-${r.index}`,
      },
    ]);
    for (let i = 0; i < 3000; i++)
      steps.push({
        op: "update",
        urn: `urn:pulumi:local::serverpark::serverpark:index:Datacenter$docker:index/container:Container::fra1-host-x${i % 300}-agent-${i}`,
      });
    const violations = Array.from({ length: 2000 }, (_, i) => ({
      policy: `p-${i}`,
      controls: ["A.8.20"],
      resource: `r${i}`,
      message: "m".repeat(200),
      enforcement: i % 10 ? "advisory" : "mandatory",
    }));
    const md = renderComment({
      stack: "local",
      diff,
      preview: groupPreview(
        { steps },
        {
          datacenter: "fra1",
          services: spec.services.map((s: { id: string }) => s.id),
          hosts: spec.hosts.map((h: { id: string }) => h.id),
          networks: ["public", "private", "mgmt"],
        },
      ),
      violations: parsePolicyViolations(JSON.stringify(violations)),
      fullCommand: "npx serverpark diff --git origin/main..HEAD local",
    });
    expect(md.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(md.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT - 5000);
    expect(md.startsWith(commentMarker("local"))).toBe(true);
    expect(md.slice(0, 2000)).toContain("**Datacenter:** 300 hosts added");
    expect(md).toContain("This comment was truncated to stay under GitHub's 65,536-character limit");
    expect(md).toContain("Run `npx serverpark diff --git origin/main..HEAD local` for everything.");
    // Every <details> that was opened is closed, so the rest of the page renders.
    expect(md.split("<details").length).toBe(md.split("</details>").length);
    // A cut inside a fenced block closes the fence first (the CIDR case has long DNS record lists).
    const cidr = diffOf(CASES.find((c) => c.name === "cidr")!).diff;
    for (let max = 2000; max <= 9000; max += 250) {
      const small = renderComment({ stack: "local", diff: cidr, maxChars: max });
      expect(small.length).toBeLessThanOrEqual(max);
      expect(small.split("\n").filter((l) => l.startsWith("```")).length % 2, `fences balanced at ${max}`).toBe(0);
      expect(small.split("<details").length, `details balanced at ${max}`).toBe(small.split("</details>").length);
    }
    // A smaller limit is honoured too.
    expect(renderComment({ stack: "local", diff, maxChars: 5000 }).length).toBeLessThanOrEqual(5000);
  });
});
