/** The datacenter drawing: the local stack's SVG names every host and replica, is well-formed and deterministic; the CLI writes it. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { command } from "../../cli/commands/diagram";
import { diagramModel } from "../../components/model/nocView";
import { renderDatacenterSvg } from "../../images/noc/src/diagram";
import { replicaRuntimeConfig } from "../../components/model/runtimeConfig";
import { loadPlan } from "../../cli/stack";

const root = join(__dirname, "..", "..");
const { plan } = loadPlan("local", root);

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), cwd: root, interactive: false } };
}

describe("datacenter SVG", () => {
  const svg = renderDatacenterSvg(diagramModel(plan));

  it("names every host, replica, rack, PDU and feed of the local stack", () => {
    for (const h of plan.hosts) expect(svg).toContain(`data-host="${h.id}"`);
    for (const h of plan.hosts) expect(svg).toContain(`>${h.id}</text>`);
    for (const r of plan.replicas) expect(svg).toContain(`>${r.id}</text>`);
    for (const r of plan.replicas) expect(svg).toContain(`data-replica="${r.id}"`);
    for (const pdu of new Set(plan.hosts.flatMap((h) => h.psus.map((p) => p.pdu)))) expect(svg).toContain(`data-pdu="${pdu}"`);
    expect(svg).toContain(">feed A</text>");
    expect(svg).toContain(">feed B</text>");
    expect(svg).toContain('data-rack="r1"');
    // Without live state every replica is drawn unknown.
    expect(svg.match(/class="replica st-unknown"/g)).toHaveLength(plan.replicas.length);
  });

  it("draws one wire per power supply", () => {
    const psus = plan.hosts.reduce((n, h) => n + h.psus.length, 0);
    expect(svg.match(/<circle /g)).toHaveLength(psus);
  });

  it("is deterministic and well-formed XML", () => {
    expect(renderDatacenterSvg(diagramModel(plan))).toBe(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    // xmllint is in libxml2-utils; a well-formedness check without a parser dependency.
    try {
      execFileSync("xmllint", ["--noout", "-"], { input: svg });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      expect(svg.match(/<g[ >]/g)?.length).toBe(svg.match(/<\/g>/g)?.length);
    }
  });

  it("colours replicas by state and shows availability", () => {
    const live = renderDatacenterSvg(diagramModel(plan), {
      replicas: { "www-0": "up", "www-1": "down", "edge-0": "degraded" },
      details: { "www-1": "http timed out after 2000 ms" },
      availability: { www: 0.5, edge: 1 },
    });
    expect(live).toMatch(/class="replica st-up"[^>]*data-replica="www-0"/);
    expect(live).toMatch(/class="replica st-down"[^>]*data-replica="www-1"/);
    expect(live).toContain("http timed out after 2000 ms");
    expect(live).toContain(">50.00%</text>");
    expect(live).toContain(">100%</text>");
    expect(live).toContain(">1/2 up</text>");
  });

  it("escapes names", () => {
    const model = diagramModel(plan);
    const evil = { ...model, datacenter: "<script>&" };
    expect(renderDatacenterSvg(evil)).toContain("datacenter &lt;script&gt;&amp;");
  });

  it("draws the same picture from the view the NOC receives", () => {
    const noc = plan.replicas.find((r) => r.role === "noc")!;
    const config = replicaRuntimeConfig(
      plan,
      noc,
      plan.services.find((s) => s.id === noc.service)!,
    );
    const fromView = config.noc!.diagram;
    expect(fromView.replicas.map((r) => r.id).sort()).toEqual(plan.replicas.map((r) => r.id).sort());
    for (const h of plan.hosts) expect(fromView.hosts.find((x) => x.id === h.id)!.replicas).toEqual([...h.replicas]);
    expect(renderDatacenterSvg(JSON.parse(JSON.stringify(fromView)))).toBe(svg);
  });
});

const run = (t: ReturnType<typeof io>, positionals: string[], values: Record<string, unknown> = {}) => command.run({ positionals, values }, t.io);

describe("serverpark diagram", () => {
  it("prints the SVG for a stack (through bin/serverpark.js)", () => {
    const out = execFileSync(process.execPath, [join(root, "bin", "serverpark.js"), "diagram", "local"], { cwd: root, encoding: "utf8", timeout: 110_000 });
    expect(out).toContain("<svg");
    expect(out).toContain('data-replica="arena-0"');
  }, 120_000); // a whole CLI process (tsx transpiles on start): seconds alone, much more on a loaded machine

  it("writes it to a file with --out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "diagram-"));
    const t = io();
    expect(await run(t, ["local"], { out: join(dir, "fra1.svg") })).toBe(0);
    expect(readFileSync(join(dir, "fra1.svg"), "utf8")).toContain('data-replica="noc-0"');
    expect(t.err.join("")).toMatch(/8 hosts, \d+ replicas/);
  });

  it("prints the model with --json and fails clearly for an unknown stack", async () => {
    const t = io();
    expect(await run(t, ["local"], { json: true })).toBe(0);
    expect(JSON.parse(t.out.join("")).hosts).toHaveLength(8);
    expect(() => run(io(), ["nosuchstack"])).toThrow(/nosuchstack/);
  });
});
