/**
 * Whole stacks through the real program under Pulumi's mocks and the policy pack: the local
 * stack itself (compliant.yaml, no changes) passes every policy, and each deliberately broken
 * stack (test/policies/fixtures) fails with exactly the policy ids it expects, or is refused
 * by the program before the policies run.
 */
import { readdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { allRolesRoot, failedPolicies, FIXTURES, loadFixture, runFixture } from "./stacks";

let root: string;
beforeAll(() => {
  root = allRolesRoot();
});

const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

describe("broken stacks", () => {
  it("has the broken stacks the issue names", () => {
    expect(fixtures).toEqual(
      expect.arrayContaining([
        "compliant.yaml",
        "db-on-internet.yaml",
        "single-feed.yaml",
        "no-backups.yaml",
        "secret-in-config.yaml",
        "privileged-container.yaml",
      ]),
    );
  });

  for (const name of fixtures) {
    const fixture = loadFixture(name);
    const outcome = fixture.refused ? "refused by the program" : fixture.expect.length === 0 ? "passes" : fixture.expect.join(", ");
    it(`${name}: ${fixture.description} → ${outcome}`, async () => {
      if (fixture.refused) {
        const error = await runFixture(root, fixture).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error, "the program refuses the stack").toBeInstanceOf(Error);
        for (const text of fixture.refused) expect(error!.message).toContain(text);
        return;
      }
      const check = await runFixture(root, name === "compliant.yaml" ? undefined : fixture);
      expect(check.resources.filter((r) => r.type === "docker:index/container:Container").length, "every role deploys in the scratch root").toBeGreaterThan(10);
      expect(failedPolicies(check), check.evaluation.violations.map((v) => `${v.policy}: ${v.detail}`).join("\n")).toEqual([...fixture.expect].sort());
    }, 180_000); // a whole program under mocks: seconds alone, much more on a loaded machine
  }
});
