/**
 * Meta-tests of the pack: every policy carries its facts (stable id, Annex A controls,
 * severity, one-line description, remediation) and is documented in the pack's README with
 * its control ids; the Annex A catalogue is complete; the rules never construct a PolicyPack.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ANNEX_A, annexAControl } from "../../policies/lib/controls";
import { controlsOf, POLICY_ID } from "../../policies/lib/policy";
import { PACK_NAME, POLICIES } from "../../policies/rules";

const POLICIES_DIR = join(__dirname, "..", "..", "policies");
const readme = readFileSync(join(POLICIES_DIR, "README.md"), "utf8");

describe("the policy pack", () => {
  it("has unique, stable-looking ids", () => {
    const names = POLICIES.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(POLICY_ID);
    expect(PACK_NAME).toMatch(/^[a-zA-Z0-9-_.]{1,100}$/);
  });

  it("puts every policy's control, severity and remediation in @pulumi/policy's own metadata", () => {
    for (const p of POLICIES) {
      expect(p.framework, p.name).toMatchObject({ name: "iso27001", version: "2022", reference: "ISO/IEC 27001:2022 Annex A" });
      const controls = controlsOf(p);
      expect(controls.length, p.name).toBeGreaterThan(0);
      for (const c of controls) expect(p.framework!.specification).toContain(`${c} ${annexAControl(c).title}`);
      expect(["low", "medium", "high", "critical"]).toContain(p.severity);
      expect(p.description).not.toMatch(/\n/);
      expect(p.remediationSteps?.length ?? 0, p.name).toBeGreaterThan(20);
      expect(p.enforcementLevel).toBe("mandatory");
    }
  });

  it("covers every control the issue names", () => {
    const covered = new Set(POLICIES.flatMap(controlsOf));
    for (const c of [
      "A.7.11",
      "A.8.14",
      "A.8.13",
      "A.8.20",
      "A.8.22",
      "A.8.21",
      "A.8.24",
      "A.8.5",
      "A.8.2",
      "A.8.6",
      "A.8.9",
      "A.8.15",
      "A.8.16",
      "A.5.23",
      "A.8.32",
    ]) {
      expect(covered.has(c), c).toBe(true);
    }
  });

  it("checks at least 25 Annex A controls on the deployment (issue 20)", () => {
    expect(new Set(POLICIES.flatMap(controlsOf)).size).toBeGreaterThanOrEqual(25);
  });

  it("documents every policy in policies/README.md with its control ids", () => {
    // Table rows `| \`<id>\` | <controls> | …`, whatever the column padding.
    const rows = new Map(
      readme
        .split("\n")
        .filter((l) => l.startsWith("| `sp-"))
        .map((l) => l.split("|").map((c) => c.trim()))
        .map((cells) => [cells[1]!.replace(/`/g, ""), cells[2]!]),
    );
    for (const p of POLICIES) expect(rows.get(p.name), p.name).toBe(controlsOf(p).join(", "));
    expect([...rows.keys()].sort()).toEqual(POLICIES.map((p) => p.name).sort());
  });

  it("constructs the PolicyPack only in policies/index.ts", () => {
    const rules = readdirSync(join(POLICIES_DIR, "rules")).map((f) => readFileSync(join(POLICIES_DIR, "rules", f), "utf8"));
    for (const source of rules) expect(source).not.toMatch(/new PolicyPack|import \{[^}]*\bPolicyPack\b[^}]*\} from "@pulumi\/policy"/);
    expect(readFileSync(join(POLICIES_DIR, "index.ts"), "utf8")).toMatch(/new PolicyPack\(PACK_NAME/);
  });
});

describe("the Annex A catalogue", () => {
  it("lists the 93 controls of ISO/IEC 27001:2022 by theme", () => {
    expect(ANNEX_A).toHaveLength(93);
    const count = (theme: string) => ANNEX_A.filter((c) => c.theme === theme).length;
    expect([count("organizational"), count("people"), count("physical"), count("technological")]).toEqual([37, 8, 14, 34]);
    expect(annexAControl("A.8.14").title).toBe("Redundancy of information processing facilities");
    expect(annexAControl("A.5.23").title).toBe("Information security for use of cloud services");
    expect(() => annexAControl("A.9.1")).toThrow(/unknown/);
  });
});
