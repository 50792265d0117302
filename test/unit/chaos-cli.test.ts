/**
 * `serverpark chaos` refuses bad input with a clear message before it changes anything. A
 * fake `docker` first on PATH records every call it gets: bad scenarios and speeds must not
 * reach it at all, and a stack that is not deployed gets only the read-only listing.
 */
import "tsx/cjs";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { compare, DEFAULT_TOLERANCE } from "../../components/power/live/compare";
import { captureIo } from "../support/cliIo";

const { main } = createRequire(join(process.cwd(), "test/unit/chaos-cli.test.ts"))("../../cli/main.ts") as typeof import("../../cli/main");

const dir = mkdtempSync(join(tmpdir(), "sp-chaos-cli-"));
const calls = join(dir, "calls.log");
const savedPath = process.env.PATH;

/** What the fake docker was asked, one call per line. */
const dockerCalls = (): string[] => (existsSync(calls) ? readFileSync(calls, "utf8").split("\n").filter(Boolean) : []);

beforeAll(() => {
  // `docker ps` lists nothing (no datacenter deployed); every call is recorded.
  writeFileSync(join(dir, "docker"), `#!/bin/sh\necho "$*" >> "${calls}"\nexit 0\n`);
  chmodSync(join(dir, "docker"), 0o755);
  process.env.PATH = `${dir}${delimiter}${savedPath}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
});
beforeEach(() => writeFileSync(calls, ""));

async function chaos(...args: string[]) {
  const io = captureIo();
  const code = await main(["chaos", ...args], io);
  return { code, ...io };
}

describe("serverpark chaos: bad input touches nothing", () => {
  it("an unknown host fails with the known hosts, before any docker call", async () => {
    const r = await chaos("local", "--scenario", "host:h9@0/2m");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('events.0.fail: unknown component "host:h9"');
    expect(r.stderr).toContain("host:h1");
    expect(dockerCalls()).toEqual([]);
  });

  it("an unknown feed or PDU in a scenario file fails the same way", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "events:\n  - { at: 0, fail: utility:C }\n  - { at: 1m, fail: pdu:nope }\n");
    const r = await chaos("local", "--scenario", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the scenario has 2 problems");
    expect(r.stderr).toContain('unknown component "utility:C"');
    expect(r.stderr).toContain('unknown component "pdu:nope"');
    expect(dockerCalls()).toEqual([]);
  });

  it("a speed of 0 or below, or not a number, is a usage error before any docker call", async () => {
    for (const speed of ["0", "-5", "fast"]) {
      const r = await chaos("local", "--scenario", "host:h1@0/1m", `--speed=${speed}`);
      expect(r.code, speed).toBe(2);
      expect(r.stderr, speed).toContain(`--speed must be a number greater than 0 (simulated seconds per real second), got "${speed}"`);
    }
    expect(dockerCalls()).toEqual([]);
  });

  it("a tolerance that is not seconds or a percentage is a usage error before any docker call", async () => {
    for (const tolerance of ["soon", "2 h", "1s,2s,3s"]) {
      const r = await chaos("local", "--scenario", "host:h1@0/1m", `--tolerance=${tolerance}`);
      expect(r.code, tolerance).toBe(2);
      expect(r.stderr, tolerance).toContain(`--tolerance must be seconds and/or a percentage, such as "2s", "10%" or "3s,15%", got "${tolerance}"`);
    }
    expect(dockerCalls()).toEqual([]);
  });

  it("needs a scenario", async () => {
    const r = await chaos("local");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--scenario is required");
    expect(dockerCalls()).toEqual([]);
  });

  it("a stack that is not deployed is named in the error, and only looked up", async () => {
    const r = await chaos("local", "--scenario", "host:h1@0/1m");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('datacenter "fra1" is not deployed: no containers are labelled serverpark.datacenter=fra1');
    expect(dockerCalls()).toEqual(["ps -aq --no-trunc --filter label=serverpark.datacenter=fra1"]);
  });

  it("is listed and documented", async () => {
    const all = captureIo();
    expect(await main(["--help"], all)).toBe(0);
    expect(all.stdout).toMatch(/^ {2}chaos +play a power scenario/m);
    const help = captureIo();
    expect(await main(["chaos", "--help"], help)).toBe(0);
    expect(help.stdout).toContain(
      "serverpark chaos <stack> --scenario <file|events> [--speed N] [--tolerance 2s,10%] [--secrets file] [--json] [--chart out.html]",
    );
    expect(help.stdout).toContain("differs from the prediction by more than the tolerance");
  });
});

describe("serverpark chaos: the prediction-vs-measurement table", () => {
  it("one line per probe with both intervals, the difference against the tolerance, the verdict, and a summary", () => {
    const { renderFidelity } = createRequire(join(process.cwd(), "test/unit/chaos-cli.test.ts"))(
      "../../cli/commands/chaos.ts",
    ) as typeof import("../../cli/commands/chaos");
    const samples = (down: (t: number) => boolean) => Array.from({ length: 80 }, (_, i) => ({ at: i * 0.25, ok: !down(i * 0.25) }));
    const rows = compare(
      [
        { service: "db", access: "direct", down: [{ from: 0, to: 5 }], downSeconds: 5, latest: { down: [{ from: 0, to: 5 }], seconds: 5 } },
        { service: "www", access: "proxied", down: [], downSeconds: 0, latest: { down: [], seconds: 0 } },
      ],
      [
        { probe: "db/postgres", service: "db", intervalSeconds: 0.25, samples: samples((t) => t < 5.5) },
        { probe: "www/https", service: "www", intervalSeconds: 0.25, samples: samples((t) => t >= 2 && t < 3) },
      ],
      DEFAULT_TOLERANCE,
    );
    const text = renderFidelity(rows, DEFAULT_TOLERANCE);
    expect(text).toContain("tolerance 2 s or 10 %, whichever is larger");
    expect(text).toMatch(/^db\/postgres +0\.0–5\.0 s \(5\.0 s\) +0\.0–5\.5 s \(5\.5 s\) +\+0\.5 s \(±2\.0\) +ok$/m);
    expect(text).toMatch(/^www\/https +- \(0\.0 s\) +2\.0–3\.0 s \(1\.0 s\) +\+1\.0 s \(±2\.0\) +went down$/m);
    expect(text).toContain("1 of 2 probes did not behave as predicted.");
  });
});
