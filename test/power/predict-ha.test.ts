/**
 * The live run's prediction for a highly available db (components/power/live/haGroup.ts) on
 * the HA test stack (test/lab/fixtures/Pulumi.hatest.yaml: two data nodes and the monitor on
 * three hosts in three racks): losing the primary's host costs the failover, not the host's
 * boot; a standby's or the monitor's loss costs nothing; without a monitor or a standby the
 * group waits for the old primary. Round figures (boot 4 s, failover 6 s, speed 1: the
 * scenario's seconds are real seconds) read off by hand.
 */
import { describe, expect, it } from "vitest";
import { readScenario } from "../../cli/scenario";
import { loadPlan } from "../../cli/stack";
import { MONITOR_STARTUP_GRACE_SECONDS } from "../../components/power/live/haGroup";
import { predictDowntime } from "../../components/power/live/predict";
import { liveTimeline } from "../../components/power/live/timeline";

const ha = loadPlan("test/lab/fixtures/Pulumi.hatest.yaml", process.cwd());
const hostOf = (id: string) => ha.plan.replicas.find((r) => r.id === id)!.host;
const boot = { db: 4 };
const failoverSeconds = 6;

function db(scenario: string, primary?: string) {
  const timeline = liveTimeline(ha.spec, ha.plan, readScenario(scenario, process.cwd()));
  const row = predictDowntime(ha.spec, ha.plan, timeline, {
    speed: 1,
    bootSeconds: boot,
    failoverSeconds,
    ...(primary ? { primaries: { db: primary } } : {}),
  }).find((r) => r.service === "db")!;
  return { earliest: row.down.map((d) => [d.from, d.to]), latest: row.latest.down.map((d) => [d.from, d.to]) };
}

describe("a highly available db in the live prediction", () => {
  it("the plan puts the data nodes and the monitor on three different hosts (what the cases below rely on)", () => {
    expect(new Set([hostOf("db-0"), hostOf("db-1"), hostOf("db-monitor")]).size).toBe(3);
  });

  it("the primary's host loses power for a minute: down for the failover (6 s), not until the host is back (60 s + boot)", () => {
    expect(db(`host:${hostOf("db-0")}@0/1m`, "db-0")).toEqual({ earliest: [[0, 6]], latest: [[0, 6]] });
  });

  it("the standby's host or the monitor's: the primary keeps answering", () => {
    expect(db(`host:${hostOf("db-1")}@0/1m`, "db-0")).toEqual({ earliest: [], latest: [] });
    expect(db(`host:${hostOf("db-monitor")}@0/1m`, "db-0")).toEqual({ earliest: [], latest: [] });
  });

  it("the primary unknown: the range from no outage (a standby was cut) to the failover (the primary was)", () => {
    expect(db(`host:${hostOf("db-1")}@0/1m`)).toEqual({ earliest: [], latest: [[0, 6]] });
  });

  it("the primary and the monitor at once: nobody promotes the standby; down until the primary's host is back and it booted", () => {
    expect(db(`host:${hostOf("db-0")}@0/1m,host:${hostOf("db-monitor")}@0/1m`, "db-0")).toEqual({ earliest: [[0, 64]], latest: [[0, 64]] });
  });

  it("the monitor is dark when the primary goes and back first: it fails over after its own boot and its startup grace period", () => {
    // monitor dark 0-30 s (boot to 34 s), primary dark from 10 s for 2 min: promoted at 34 + grace.
    const out = db(`host:${hostOf("db-monitor")}@0/30s,host:${hostOf("db-0")}@10s/2m`, "db-0");
    expect(out.latest).toEqual([[10, 34 + Math.max(failoverSeconds, MONITOR_STARTUP_GRACE_SECONDS)]]);
  });

  it("after a failover the old primary comes back as a standby: losing it again costs nothing, losing the new primary fails back", () => {
    const a = hostOf("db-0");
    const b = hostOf("db-1");
    // db-0 dark 0-60 s (boots by 64 s): db-1 primary from 6 s; db-1 dark at 120 s: db-0 promoted at 126 s.
    expect(db(`host:${a}@0/1m,host:${b}@2m/1m`, "db-0").latest).toEqual([
      [0, 6],
      [120, 126],
    ]);
    // Then db-0 again at 240 s: it is the primary now.
    expect(db(`host:${a}@0/1m,host:${b}@2m/1m,host:${a}@4m/1m`, "db-0").latest).toEqual([
      [0, 6],
      [120, 126],
      [240, 246],
    ]);
  });
});
