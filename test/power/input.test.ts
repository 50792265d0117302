/**
 * Bad scenario input gets a clear error; the CLI turns it into exit code 1, and bad usage
 * into exit code 2. The CLI runs in-process through cli/main.ts, like bin/serverpark.js; its
 * command discovery uses Node's require, so tsx's require hook is registered as the bin does.
 */
import "tsx/cjs";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureIo } from "../support/cliIo";
import { DEFAULT_RATES, parseCompactScenario, parseDuration, parseScenario, powerTopology, ScenarioError } from "../../components/power";
import { loadPlan } from "../../cli/stack";

const { spec } = loadPlan("local", process.cwd());
const topology = powerTopology(spec);

function problems(raw: unknown): string[] {
  try {
    parseScenario(raw, topology);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  }
  throw new Error("expected the scenario to be rejected");
}

describe("scenario input", () => {
  it("parses durations", () => {
    expect([90, "90", "30s", "15m", "2h", "1h30m", "1d", "0.5h"].map((d) => parseDuration(d))).toEqual([90, 90, 30, 900, 7200, 5400, 86400, 1800]);
    expect(["", "h", "5 minutes", "-3", "1x"].map((d) => parseDuration(d))).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it("reports every problem at once, with its path", () => {
    expect(
      problems({
        events: [
          { at: "soon", fail: "utility:A" },
          { at: 0, fail: "utility:C" },
          { at: 0 },
          { at: 0, fail: "host:h1", repair: "host:h1" },
          { at: 0, repair: "host:h1", for: "1h" },
        ],
        generatorStart: { Q: "ok" },
        colour: "red",
      }),
    ).toEqual([
      'events.0.at: expected a duration such as 90, 30s, 15m, 2h or 1h30m, got "soon"',
      "events.2: an event needs exactly one of fail: or repair:",
      "events.3: an event needs exactly one of fail: or repair:",
      "events.4.for: for: only goes with fail:",
      expect.stringContaining('Unrecognized key: "colour"'),
      'events.1.fail: unknown component "utility:C": known utility components: utility:A, utility:B',
      'generatorStart.Q: no feed "Q" (feeds: A, B)',
    ]);
  });

  it("rejects an empty scenario and a bad generator mode", () => {
    expect(problems({ events: [] })).toEqual(["events: a scenario needs at least one event"]);
    expect(problems({ events: [{ at: 0, fail: "host:h1" }], generatorStart: "maybe" })[0]).toMatch(/^generatorStart: /);
  });

  it("parses the compact form and rejects malformed parts", () => {
    expect(parseCompactScenario("utility:A@0/2h, host:h3@30m,!host:h3@1h")).toEqual({
      events: [
        { at: "0", fail: "utility:A", for: "2h" },
        { at: "30m", fail: "host:h3" },
        { at: "1h", repair: "host:h3" },
      ],
    });
    expect(() => parseCompactScenario("utility:A")).toThrow('"utility:A" is not <component>@<at>[/<for>] (e.g. utility:A@0/2h)');
  });
});

// Loaded through the same require hook as the commands, so error classes are the same instances.
const { main } = createRequire(join(process.cwd(), "test/power/input.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");

const io = () => captureIo();

describe("serverpark simulate", () => {
  it("exits 1 with the problems for a bad scenario, 2 for bad usage", async () => {
    let c = io();
    expect(await main(["simulate", "local", "--scenario", "utility:Q@0,host:h1@x"], c)).toBe(1);
    expect(c.stderr).toContain('unknown component "utility:Q"');
    expect(c.stderr).toContain("events.1.at: expected a duration");
    c = io();
    expect(await main(["simulate", "local"], c)).toBe(2);
    expect(c.stderr).toContain("choose one of --scenario, --n-1 or --availability");
    c = io();
    expect(await main(["simulate", "local", "--n-1", "--availability"], c)).toBe(2);
    c = io();
    expect(await main(["simulate", "local", "--availability", "--years", "0"], c)).toBe(2);
    expect(c.stderr).toContain("--years must be a whole number ≥ 1");
    c = io();
    expect(await main(["simulate", "local", "--scenario", "missing.yaml"], c)).toBe(1);
    expect(c.stderr).toContain("scenario file not found: missing.yaml");
  });

  it("plays a scenario file, writes an SVG chart and prints JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-power-"));
    const file = join(dir, "cut.yaml");
    writeFileSync(
      file,
      "name: both feeds out, generator B broken\ngeneratorStart: ok\nevents:\n  - { at: 0, fail: utility:A, for: 2h }\n  - { at: 0, fail: utility:B, for: 2h }\n  - { at: 0, fail: generator:B }\n  - { at: 30m, fail: host:h2, for: 10m }\n",
    );
    const c = io();
    expect(await main(["simulate", "local", "--scenario", file, "--chart", join(dir, "cut.svg"), "--json"], c)).toBe(0);
    const result = JSON.parse(c.stdout) as { name: string; services: { service: string; downtimeSeconds: number }[] };
    expect(result.name).toBe("both feeds out, generator B broken");
    // mail runs on h2 (see the N-1 snapshot): down for exactly the 10 minutes h2 is broken.
    expect(result.services.find((s) => s.service === "mail")!.downtimeSeconds).toBe(600);
    const svg = readFileSync(join(dir, "cut.svg"), "utf8");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain("<title>00:30:00–00:40:00 dark</title>");
    const again = io();
    expect(await main(["simulate", "local", "--scenario", "host:h2@30m/10m", "--chart", join(dir, "cut.html")], again)).toBe(0);
    const html = readFileSync(join(dir, "cut.html"), "utf8");
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("<tr><td>mail</td><td>00:10:00</td><td>1</td></tr>");
    expect(again.stdout).toMatch(/mail\s+00:10:00\s+1\s+=+~?\.+~?=+\n/);
    expect(await main(["simulate", "local", "--scenario", "host:h2@30m", "--chart", join(dir, "cut.png")], io())).toBe(2);
  });

  it("prints the N-1 table and a deterministic availability estimate", async () => {
    let c = io();
    expect(await main(["simulate", "local", "--n-1"], c)).toBe(0);
    // db is an HA group (data nodes on h3 and h6, the monitor on h8): no single failure takes it
    // down; mail, on h2 alone, falls with its host and rack.
    expect(c.stdout).toMatch(/\ndb\s+yes\s+survives\s+-\s+-\n/);
    expect(c.stdout).toMatch(/\nmail\s+no\s+fails\s+rack:r1 host:h2\s+-\n/);
    const run = async () => {
      c = io();
      expect(await main(["simulate", "local", "--availability", "--years", "50", "--seed", "9", "--json"], c)).toBe(0);
      return c.stdout;
    };
    const first = await run();
    expect(await run()).toBe(first);
    c = io();
    // Two replicas do not survive both their hosts: as an N-2 gate the local stack fails.
    expect(await main(["simulate", "local", "--n-1", "--n-2", "--json"], c)).toBe(1);
    const n2 = JSON.parse(c.stdout) as {
      ok: boolean;
      redundantDown: { service: string; downBy: string[] }[];
      rows: unknown[];
      verdicts: unknown[];
      pairs: { component: string; servicesDown: string[] }[];
    };
    expect(n2.rows).toHaveLength(25);
    expect(n2.pairs.find((p) => p.component === "feed:A+feed:B")!.servicesDown).toHaveLength(8);
    expect(n2.ok).toBe(false);
    expect(n2.redundantDown.map((s) => s.service)).toEqual(["www", "edge", "ns", "db"]);
    // A pair that takes both data nodes, or one of them and the monitor's host, leaves no failover.
    expect(n2.redundantDown.find((s) => s.service === "db")!.downBy).toEqual(expect.arrayContaining(["host:h3+host:h6", "host:h3+host:h8"]));
    expect(n2.redundantDown.find((s) => s.service === "www")!.downBy).toEqual(expect.arrayContaining(["feed:A+feed:B", "host:h1+host:h4"]));
    expect(await main(["simulate", "local", "--n-2"], io())).toBe(2);
    const parsed = JSON.parse(first) as { years: number; seed: number; tier: { topologyTier: number } };
    expect(parsed).toMatchObject({ years: 50, seed: 9, tier: { topologyTier: 1 } });
  });
});

describe("documentation", () => {
  it("README's rate table matches DEFAULT_RATES", () => {
    const readme = readFileSync(join(process.cwd(), "components/power/README.md"), "utf8");
    const rows = readme
      .split("\n")
      .filter((line) => line.startsWith("|"))
      .map((line) =>
        line
          .split("|")
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    for (const [kind, rate] of Object.entries(DEFAULT_RATES)) {
      expect(rows).toContainEqual([kind, String(rate.failuresPerYear), String(rate.meanRepairHours), rate.source]);
    }
  });
});
