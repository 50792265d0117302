/**
 * The Hetzner README's "First deployment" walkthrough says what the example stack costs and what
 * `pulumi up` creates; these numbers must be the code's: the cost table is what
 * `monthlyCost` computes and `serverpark plan hetzner` prints, the catalogue table is
 * `catalog.ts`, and the resource counts are the program's under mocks.
 */
import "tsx/cjs";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SERVER_TYPES } from "../../components/targets/hetzner/catalog";
import { monthlyCost, type MonthlyCost } from "../../components/targets/hetzner/cost";
import { checkHetzner } from "../../components/targets/hetzner/settings";
import { captureIo } from "../support/cliIo";
import { runUnderMocks, type MockRun } from "../support/pulumiMocks";
import { REGISTRY_PASSWORD, specWith, stackFile } from "./fixture";

const { main } = createRequire(join(process.cwd(), "test/hetzner/first-deployment.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");

const readme = readFileSync(join(process.cwd(), "components/targets/hetzner/README.md"), "utf8");

/** The rows of the first Markdown table after `marker`, cells trimmed (header and rule dropped). */
function tableAfter(marker: string): string[][] {
  const at = readme.indexOf(marker);
  expect(at, marker).toBeGreaterThan(0);
  const lines = readme.slice(at).split("\n");
  const start = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith("|")) break;
    rows.push(
      l
        .slice(1, -1)
        .split("|")
        .map((c) => c.trim()),
    );
  }
  return rows;
}

function costOf(edit?: (raw: Record<string, any>) => void): MonthlyCost {
  const { spec, plan } = specWith(edit);
  const check = checkHetzner(spec, plan);
  if (!check.ok) throw new Error(JSON.stringify(check.issues));
  return monthlyCost(plan, check.resolution);
}

const unit = (n: number) => (n < 0.1 ? n.toFixed(3) : n.toFixed(2));
const asRows = (cost: MonthlyCost) => [
  ...cost.lines.map((l) => [l.item, String(l.count), unit(l.unitEur), l.eurMonth.toFixed(2)]),
  ["total (before VAT)", "", "", cost.totalEur.toFixed(2)],
];

describe("the README's first deployment", () => {
  it("states the example stack's monthly cost as the code computes it", () => {
    expect(tableAfter("ends with the monthly cost:")).toEqual(asRows(costOf()));
  });

  it("is what `serverpark plan hetzner` prints", async () => {
    const io = captureIo();
    expect(await main(["plan", "hetzner"], io), io.stderr).toBe(0);
    const printed = io.stdout
      .slice(io.stdout.indexOf("HETZNER COST"))
      .split("\n")
      .slice(2)
      .filter((l) => l.trim() !== "")
      .map((l) => l.split(/\s{2,}/).map((c) => c.trim()));
    const expected = asRows(costOf()).map((r) => r.filter((c) => c !== ""));
    expect(printed).toEqual(expected);
  });

  it("adds up, and follows the plan: a bigger server costs its price difference, and its backups 20 % of it", () => {
    const base = costOf();
    expect(base.totalEur).toBeCloseTo(
      base.lines.reduce((n, l) => n + l.eurMonth, 0),
      2,
    );
    // h2 runs mail (backed up): cx42 → cx52.
    const bigger = costOf((r) => (r.hetzner.serverTypes = { h2: "cx52" }));
    const price = (name: string) => SERVER_TYPES.find((t) => t.name === name)!.eurMonth;
    const delta = price("cx52") - price("cx42");
    expect(bigger.totalEur - base.totalEur).toBeCloseTo(delta * 1.2, 1);
    // Without the load balancer its line goes, and nothing else changes.
    const noLb = costOf((r) => {
      r.hetzner.loadBalancer.enabled = false;
      delete r.services.find((s: any) => s.id === "edge").settings;
    });
    expect(noLb.lines.map((l) => l.item)).toEqual(base.lines.map((l) => l.item).filter((i) => !i.startsWith("load balancer")));
  });

  it("lists the catalogue as catalog.ts has it", () => {
    const rows = tableAfter("The table (Hetzner's catalogue as this target knows it");
    expect(rows).toEqual(SERVER_TYPES.map((t) => [t.name, t.cpu, String(t.cores), String(t.memoryGb), String(t.diskGb), t.eurMonth.toFixed(2)]));
  });

  describe("what pulumi up creates", () => {
    let run: MockRun<unknown>;
    beforeAll(async () => {
      run = await runUnderMocks(async () => (await import("../../components/program.js")).runProgram(), {
        stack: "hetzner",
        config: { ...stackFile.config, "serverpark:registryPassword": REGISTRY_PASSWORD },
        realTls: false,
      });
    }, 120_000);

    it("is the README's count of each Hetzner resource", () => {
      const rows = tableAfter("Hetzner gets:");
      expect(rows.length).toBeGreaterThan(5);
      for (const [resource, count] of rows) {
        const name = resource!.replace(/`/g, "").replace(/^hcloud:/, "");
        const type = `hcloud:index/${name[0]!.toLowerCase()}${name.slice(1)}:${name}`;
        expect(run.byType(type).length, resource).toBe(Number(count));
      }
      expect(run.byType("docker:index/image:Image").length).toBe(Number(/the\s+images \((\d+),/.exec(readme)![1]));
    });
  });
});
