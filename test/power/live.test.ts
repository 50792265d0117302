/**
 * The live run's pure parts: a scenario as per-host power changes on the simulated and the
 * real clock, and which containers a change touches. Times are worked out by hand from the
 * model in components/power/README.md.
 */
import { describe, expect, it } from "vitest";
import { loadPlan } from "../../cli/stack";
import { ScenarioError } from "../../components/power";
import {
  agentMismatch,
  agentPowerBody,
  deploymentProblems,
  liveDatacenter,
  replicasToKill,
  replicasToStart,
  type InspectedContainer,
} from "../../components/power/live/containers";
import { DEFAULT_SPEED, liveTimeline, parseSpeed, realSeconds, SpeedError } from "../../components/power/live/timeline";
import { datacenter } from "./fixtures";

const local = loadPlan("local", process.cwd());
const brief = (changes: ReturnType<typeof liveTimeline>["changes"]) => changes.map((c) => [Math.round(c.at * 1000) / 1000, c.host, c.kind, c.feeds]);

describe("scenario → host power changes", () => {
  it("one host fails and is repaired: one cut and one boot of that host, nothing else", () => {
    const t = liveTimeline(local.spec, local.plan, { events: [{ at: "5m", fail: "host:h3", for: "2m" }] });
    expect(brief(t.changes)).toEqual([
      [300, "h3", "power-off", { A: true }],
      [420, "h3", "power-on", { A: true }],
    ]);
    // The live run ends with the last event, not an hour later like the simulator's horizon.
    expect(t.endSeconds).toBe(420);
    expect(t.changes.map((c) => realSeconds(c.at, 60))).toEqual([5, 7]);
    expect(t.changes.map((c) => realSeconds(c.at, 0.5))).toEqual([600, 840]);
  });

  it("UPS drain with a failed generator: the single-fed host goes dark when the battery is empty, the dual-fed one only loses a feed", () => {
    // Feed A: 10 kW / 10 min UPS, no losses. Load on A: h1 5 kW + half of h2's 2 kW = 6 kW,
    // so the battery lasts 600 s · 10/6 = 1000 s. Utility A returns at 1 h.
    const { spec, plan } = datacenter({
      feeds: [
        {
          id: "A",
          utility: { capacityKw: 20 },
          ups: { capacityKw: 10, runtimeMinutes: 10 },
          generator: { capacityKw: 10, startDelaySeconds: 30, fuelHours: 24 },
        },
        { id: "B", utility: { capacityKw: 20 } },
      ],
      racks: [
        {
          id: "r1",
          pdus: [
            { id: "p-a", feed: "A", capacityKw: 20 },
            { id: "p-b", feed: "B", capacityKw: 20 },
          ],
        },
      ],
      hosts: [
        { id: "h1", rack: "r1", psus: ["p-a"], powerWatts: 5000 },
        { id: "h2", rack: "r1", psus: ["p-a", "p-b"], powerWatts: 2000 },
      ],
    });
    const t = liveTimeline(spec, plan, { generatorStart: "fail", events: [{ at: 0, fail: "utility:A", for: "1h" }] });
    expect(brief(t.changes)).toEqual([
      [1000, "h1", "power-off", { A: false }],
      [1000, "h2", "supply", { A: false, B: true }],
      [3600, "h1", "power-on", { A: true }],
      [3600, "h2", "supply", { A: true, B: true }],
    ]);
    expect(realSeconds(t.changes[0]!.at, DEFAULT_SPEED)).toBeCloseTo(1000 / 60, 6);
  });

  it("a PDU fails and is repaired: the host on it alone goes dark, a dual-corded one only loses that PDU, and each change says which PDU", () => {
    const t = liveTimeline(local.spec, local.plan, { events: [{ at: "1m", fail: "pdu:r1-pdu-a", for: "2m" }] });
    const at60 = t.changes.filter((c) => c.at === 60);
    // h3 is fed only through r1-pdu-a; the other hosts of r1 keep power through r1-pdu-b.
    expect(at60.find((c) => c.host === "h3")).toMatchObject({ kind: "power-off", pdus: { "r1-pdu-a": false } });
    const dual = local.plan.hosts.filter((h) => h.rack === "r1" && h.psus.length === 2).map((h) => h.id);
    expect(dual.length).toBeGreaterThan(0);
    for (const h of dual)
      expect(
        at60.find((c) => c.host === h),
        h,
      ).toMatchObject({ kind: "supply", powered: true, pdus: { "r1-pdu-a": false, "r1-pdu-b": true } });
    const at180 = t.changes.filter((c) => c.at === 180);
    expect(at180.find((c) => c.host === "h3")).toMatchObject({ kind: "power-on", pdus: { "r1-pdu-a": true } });
    // Hosts of other racks never see a change.
    expect(t.changes.every((c) => local.plan.hosts.find((h) => h.id === c.host)!.rack === "r1")).toBe(true);
  });

  it("a working generator keeps every host powered: no change to play", () => {
    const t = liveTimeline(local.spec, local.plan, { generatorStart: "ok", events: [{ at: 0, fail: "utility:A", for: "30m" }] });
    expect(t.changes).toEqual([]);
    expect(t.endSeconds).toBe(1800);
  });

  it("an explicit duration ends the run, and later changes are not played", () => {
    const t = liveTimeline(local.spec, local.plan, { duration: "10m", events: [{ at: "5m", fail: "host:h1", for: "1h" }] });
    expect(t.endSeconds).toBe(600);
    expect(brief(t.changes)).toEqual([[300, "h1", "power-off", { A: true, B: true }]]);
  });

  it("rejects an unknown host with the known ones, like simulate does", () => {
    expect(() => liveTimeline(local.spec, local.plan, { events: [{ at: 0, fail: "host:h9" }] })).toThrow(ScenarioError);
    expect(() => liveTimeline(local.spec, local.plan, { events: [{ at: 0, fail: "host:h9" }] })).toThrow(/host:h9.*host:h1/s);
  });

  it("takes a speed only when it is a number above 0; default 60 plays a 10-minute UPS runtime in 10 s", () => {
    expect(parseSpeed(undefined)).toBe(60);
    expect(realSeconds(600, parseSpeed(undefined))).toBe(10);
    expect(parseSpeed("2.5")).toBe(2.5);
    for (const bad of ["0", "-1", "abc", "", "Infinity", "NaN"]) expect(() => parseSpeed(bad), bad).toThrow(SpeedError);
    expect(() => realSeconds(1, 0)).toThrow(SpeedError);
  });
});

const container = (name: string, labels: Record<string, string>, running = true): InspectedContainer => ({
  id: `id-${name}`,
  name,
  running,
  labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [`serverpark.${k}`, v])),
});

function deployed(): InspectedContainer[] {
  return [
    container("dc-host-h1", { datacenter: "dc", kind: "host", host: "h1" }),
    container("dc-host-h2", { datacenter: "dc", kind: "host", host: "h2" }),
    container("dc-www-0", { datacenter: "dc", kind: "replica", host: "h1", service: "www", replica: "www-0", role: "web" }),
    container("dc-ns-0", { datacenter: "dc", kind: "replica", host: "h1", service: "ns", replica: "ns-0", role: "dns" }),
    container("dc-mail-0", { datacenter: "dc", kind: "replica", host: "h1", service: "mail", replica: "mail-0", role: "mail" }, false),
    container("dc-www-1", { datacenter: "dc", kind: "replica", host: "h2", service: "www", replica: "www-1", role: "web" }),
    // Another datacenter on the same engine, with the same host ids: never touched.
    container("other-www-0", { datacenter: "other", kind: "replica", host: "h1", service: "www", replica: "www-0", role: "web" }),
    container("unlabelled", {}),
  ];
}

describe("which containers a change touches", () => {
  const live = liveDatacenter("dc", deployed());

  it("kills only the replicas of the dark host that were running, never its agent or another host's", () => {
    expect(replicasToKill(live, "h1").map((r) => r.name)).toEqual(["dc-ns-0", "dc-www-0"]);
    expect(replicasToKill(live, "h2").map((r) => r.name)).toEqual(["dc-www-1"]);
    expect(replicasToKill(live, "h7")).toEqual([]);
  });

  it("boots the same replicas: one found stopped stays stopped", () => {
    expect(replicasToStart(live, "h1").map((r) => [r.name, r.service, r.replica])).toEqual([
      ["dc-ns-0", "ns", "ns-0"],
      ["dc-www-0", "www", "www-0"],
    ]);
  });

  it("says why a run cannot start: nothing deployed, unknown hosts, agents missing or stopped", () => {
    const spec = { hosts: [{ id: "h1" }, { id: "h3" }] } as never;
    expect(deploymentProblems(liveDatacenter("nope", deployed()), spec)).toEqual([
      'datacenter "nope" is not deployed: no containers are labelled serverpark.datacenter=nope (deploy it first, e.g. npm run up)',
    ]);
    const withStoppedAgent = liveDatacenter("dc", [
      ...deployed().filter((c) => c.name !== "dc-host-h1"),
      container("dc-host-h1", { datacenter: "dc", kind: "host", host: "h1" }, false),
    ]);
    expect(deploymentProblems(withStoppedAgent, spec)).toEqual([
      `host "h2" is deployed but not in the stack's spec; deploy the stack again so they agree`,
      `the agent of host "h1" (container dc-host-h1) is not running; start it first`,
      `host "h3" has no agent container (label serverpark.kind=host); deploy the stack again`,
    ]);
    expect(deploymentProblems(live, { hosts: [{ id: "h1" }, { id: "h2" }] } as never)).toEqual([]);
  });

  it("tells the agent what the simulator sees: dark feeds and failed PDUs, or every PSU failed when they do not explain the cut", () => {
    const dual = {
      psus: [
        { pdu: "p-a", feed: "A" },
        { pdu: "p-b", feed: "B" },
      ],
    };
    const up = { "p-a": true, "p-b": true };
    expect(agentPowerBody(dual, { powered: true, feeds: { A: false, B: true } })).toEqual({
      feeds: { A: false, B: true },
      pdus: up,
      psus: { psu1: true, psu2: true },
    });
    expect(agentPowerBody(dual, { powered: false, feeds: { A: false, B: false } })).toEqual({
      feeds: { A: false, B: false },
      pdus: up,
      psus: { psu1: true, psu2: true },
    });
    // Both PDUs failed: the PDUs explain the cut, the PSUs stay healthy.
    expect(agentPowerBody(dual, { powered: false, feeds: { A: true, B: true }, pdus: { "p-a": false, "p-b": false } })).toEqual({
      feeds: { A: true, B: true },
      pdus: { "p-a": false, "p-b": false },
      psus: { psu1: true, psu2: true },
    });
    // One PDU failed on a dual-corded host: still powered, that PDU reported down.
    expect(agentPowerBody(dual, { powered: true, feeds: { A: true, B: true }, pdus: { "p-a": false, "p-b": true } })).toMatchObject({
      pdus: { "p-a": false, "p-b": true },
    });
    // The host itself (or its rack) failed while feeds and PDUs are live.
    expect(agentPowerBody(dual, { powered: false, feeds: { A: true, B: true } })).toEqual({
      feeds: { A: true, B: true },
      pdus: up,
      psus: { psu1: false, psu2: false },
    });
    expect(agentPowerBody({ psus: [{ pdu: "p-a", feed: "A" }] }, { powered: true, feeds: { A: true } })).toEqual({
      feeds: { A: true },
      pdus: { "p-a": true },
      psus: { psu1: true },
    });
  });

  it("refuses an agent whose PSUs are not the plan's (it would be told about PSUs it lacks)", () => {
    const host = {
      id: "h1",
      psus: [
        { pdu: "p-a", feed: "A" },
        { pdu: "p-b", feed: "B" },
      ],
    };
    const psu = (id: string, pdu: string, feed: string) => ({ id, pdu, feed });
    expect(agentMismatch(host, [psu("psu1", "p-a", "A"), psu("psu2", "p-b", "B")])).toBeUndefined();
    expect(agentMismatch(host, [psu("psu1", "p-a", "A")])).toBe(
      `the agent of host "h1" reports PSUs psu1 p-a/A, the stack's plan has psu1 p-a/A, psu2 p-b/B; deploy the stack again so they agree`,
    );
    expect(agentMismatch(host, [psu("psu1", "p-b", "B"), psu("psu2", "p-a", "A")])).toMatch(/reports PSUs psu1 p-b\/B, psu2 p-a\/A/);
  });
});
