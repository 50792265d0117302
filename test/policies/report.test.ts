/**
 * The Statement-of-Applicability report: every Annex A control appears, with its evidence and
 * result; controls the pack does not address are said to be so; failing resources are named.
 */
import { describe, expect, it } from "vitest";
import { ANNEX_A } from "../../policies/lib/controls";
import { buildReport } from "../../components/compliance/report";
import { renderHtml, renderMarkdown } from "../../components/compliance/render";
import { POLICIES } from "../../policies/rules";
import type { StackCheck } from "../../components/compliance/check";
import { evaluatePolicies } from "../../components/compliance/evaluate";
import { judgeEvidence, type Evidence } from "../../components/compliance/evidence";
import { container, datacenterResource, recorded, withSpec } from "./support";

/** The local stack with one db replica (on h3, fed by feed A alone), so sp-101 has a finding to make advisory. */
const singleDb = withSpec((s) => {
  const db = s.services.find((x: { id: string }) => x.id === "db");
  db.replicas = 1;
  delete db.redundant;
});

async function check(): Promise<StackCheck> {
  const resources = [datacenterResource(singleDb), container("db", { privileged: true, name: "fra1-db-0<x>" })].map(recorded);
  const evaluation = await evaluatePolicies(POLICIES, resources, {
    config: { "sp-101-power-path-survives-feed-loss": "advisory" },
    packEnforcementLevel: "mandatory",
  });
  return { stack: "local", pack: { name: "serverpark-iso27001", version: "0.1.0" }, configSource: "(test)", config: {}, stackTags: {}, resources, evaluation };
}

describe("compliance report", () => {
  it("lists every Annex A control with a result", async () => {
    const report = buildReport(await check(), POLICIES);
    expect(report.controls.map((c) => c.id)).toEqual(ANNEX_A.map((c) => c.id));
    const byId = new Map(report.controls.map((c) => [c.id, c]));
    expect(byId.get("A.5.1")!.result).toBe("not-addressed");
    expect(byId.get("A.8.2")!.result).toBe("fail"); // the privileged db container
    expect(byId.get("A.7.11")!.result).toBe("advisory"); // the single db on single-fed h3: sp-101 advisory in this config
    expect(byId.get("A.8.13")!.result).toBe("pass"); // backups kept by a host in the other rack
    expect(byId.get("A.8.14")!.result).toBe("pass");
    expect(byId.get("A.5.23")!.result).toBe("not-applicable"); // no Hetzner resources
    const s = report.summary;
    expect(s.pass + s.fail + s.advisory + s.stale + s["no-evidence"] + s["not-applicable"] + s["not-addressed"]).toBe(93);
    expect(s.policies).toBe(POLICIES.length);
  });

  it("renders Markdown with every control, its evidence and the failing resource", async () => {
    const md = renderMarkdown(buildReport(await check(), POLICIES));
    for (const c of ANNEX_A) expect(md).toContain(`| ${c.id} | ${c.title.replace(/\|/g, "\\|")} |`);
    expect(md).toMatch(/\| A\.5\.1 \| Policies for information security \| yes \| organisational \| NOT ADDRESSED \| not addressed by this pack \|/);
    expect(md).toMatch(/\| A\.8\.2 \| Privileged access rights \| yes \| policy \| FAIL \| `sp-201-no-privileged-container` FAIL/);
    expect(md).toMatch(/- docker:index\/container:Container fra1-svc-x-0: Container "fra1-db-0<x>" \(replica db-0 of service db\) runs privileged/);
    expect(md).toMatch(/Remediation: Remove `privileged: true`/);
    expect(md).not.toMatch(/\d{4}-\d{2}-\d{2}T/); // deterministic: no timestamps
  });

  it("renders a self-contained HTML page with everything escaped", async () => {
    const html = renderHtml(buildReport(await check(), POLICIES));
    expect(html).toMatch(/^<!doctype html>/);
    for (const c of ANNEX_A) expect(html).toContain(`<tr id="${c.id}">`);
    expect(html).toContain("fra1-db-0&lt;x&gt;");
    expect(html).not.toContain("fra1-db-0<x>");
    expect(html).not.toMatch(/<script|https?:\/\//);
  });

  it("is a Statement of Applicability: applicable and why, how checked, result, and the runs' date and file", async () => {
    const hash = `sha256:${"a".repeat(64)}`;
    const run: Evidence = {
      format: "serverpark-evidence/v1",
      kind: "chaos",
      date: "2026-12-01T10:05:00.000Z",
      stack: "local",
      stackHash: hash,
      result: "pass",
      controls: ["A.5.29", "A.5.30"],
      summary: "host:h3@0/2m at speed 60: all 9 probes went down and came back as predicted",
    };
    const runs = judgeEvidence([{ file: "chaos-local-1.json", evidence: run }], { stack: "local", stackHash: hash, now: new Date("2026-12-06T00:00:00Z") });
    const report = buildReport(await check(), POLICIES, runs);
    const byId = new Map(report.controls.map((c) => [c.id, c]));
    for (const c of report.controls) {
      expect(c.statement.why, c.id).toMatch(/^(applicable|not applicable to this stack): /);
      expect(c.statement.methods.length, c.id).toBeGreaterThan(0);
    }
    expect(byId.get("A.5.29")).toMatchObject({ result: "pass", statement: { applicable: true, methods: ["evidence"] } });
    expect(byId.get("A.5.23")!.statement).toMatchObject({ applicable: false, why: "not applicable to this stack: no Hetzner Cloud resources in this stack" });
    expect(byId.get("A.8.7")!.statement.how).toMatch(/not checked technically: no malware protection runs/);
    expect(byId.get("A.8.2")!.statement).toMatchObject({ applicable: true, methods: ["policy"] });
    const md = renderMarkdown(report);
    expect(md).toMatch(/\| A\.5\.29 \| Information security during disruption \| yes \| evidence \| PASS \| chaos run 2026-12-01 pass \|/);
    expect(md).toContain("- **Evidence**: chaos run 2026-12-01T10:05:00.000Z (chaos-local-1.json): pass — host:h3@0/2m at speed 60");
    expect(md).toMatch(/\| A\.5\.23 \| Information security for use of cloud services \| no \| policy \| NOT APPLICABLE \|/);
    const html = renderHtml(report);
    expect(html).toMatch(/<tr id="A\.5\.29">.*chaos-local-1\.json/);
    expect(html).toMatch(/<tr id="A\.5\.23"><td>A\.5\.23<\/td><td>[^<]*<\/td><td>no<div class="how">not applicable to this stack/);
  });
});
