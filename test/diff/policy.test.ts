/**
 * Policy violations as `serverpark policy --json` prints them (fixture: real output for the
 * local stack on 2026-11-27), and the other shapes the comment accepts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderComment } from "../../components/diff/comment";
import { InputError } from "../../components/diff/input";
import { parsePolicyViolations } from "../../components/diff/policy";
import { CASES, diffOf, FIXTURES } from "./cases";

const real = readFileSync(join(FIXTURES, "policy", "serverpark-policy-local.json"), "utf8");

describe("policy violations", () => {
  it("reads `serverpark policy --json`: policy id, controls, level, the policy's own detail, the resource name", () => {
    const report = JSON.parse(real) as { mandatoryViolations: number; violations: unknown[] };
    const v = parsePolicyViolations(real);
    expect(v).toHaveLength(report.violations.length);
    expect(v.filter((x) => x.enforcement === "mandatory")).toHaveLength(report.mandatoryViolations);
    // Mandatory first, then by policy id.
    expect(v[0]).toMatchObject({ policy: "sp-101-power-path-survives-feed-loss", controls: ["A.7.11"], enforcement: "mandatory", resource: "fra1" });
    expect(v[0]!.message).toMatch(/^host h3 \(rack r1/);
    expect(v.map((x) => x.enforcement)).toEqual(
      [...v.map((x) => x.enforcement)].sort(
        (a, b) => ["mandatory", "remediate", "advisory", "disabled"].indexOf(a) - ["mandatory", "remediate", "advisory", "disabled"].indexOf(b),
      ),
    );
  });

  it("accepts a bare array and the aliases, and says what is missing", () => {
    const v = parsePolicyViolations(JSON.stringify([{ name: "p1", control: "A.8.20", urn: "urn:x", message: "m", enforcement: "advisory" }]));
    expect(v).toEqual([{ policy: "p1", controls: ["A.8.20"], resource: "urn:x", message: "m", enforcement: "advisory" }]);
    expect(() => parsePolicyViolations(JSON.stringify([{ message: "no id" }]), "policy.json")).toThrow(/policy\.json: 0: a violation needs its policy id/);
    expect(() => parsePolicyViolations(JSON.stringify([{ policy: "p", enforcementLevel: "fatal" }]), "policy.json")).toThrow(InputError);
  });

  it("shows every violation with its ISO 27001 control ids, mandatory ones at the top", () => {
    const noop = diffOf(CASES[0]!);
    const md = renderComment({ stack: "local", diff: noop.diff, violations: parsePolicyViolations(real) });
    const top = md.slice(0, md.indexOf("#### Datacenter changes"));
    expect(top).toContain("**Policy:** 22 violations (3 mandatory)");
    expect(top).toContain("**Mandatory policy violation:** `sp-101-power-path-survives-feed-loss` (A.7.11) on `fra1`");
    expect(md).toContain("| mandatory | `sp-422-backup-target-separated` |");
    expect(md).toContain("<details open><summary>Policy violations (22)</summary>");
  });
});
