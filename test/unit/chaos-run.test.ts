/**
 * Playing a live timeline, with a fake controller in place of Docker: changes go out in
 * order, instants are grouped, and every way a run ends — done, interrupted, a failed docker
 * call — restores the datacenter exactly once. The speed is huge so no test waits on a clock.
 */
import { describe, expect, it } from "vitest";
import { byInstant, playLive, type PowerController } from "../../cli/chaos/run";
import type { AppliedChange } from "../../cli/chaos/controller";
import type { HostPowerChange, LiveTimeline } from "../../components/power/live/timeline";

const change = (at: number, host: string, kind: HostPowerChange["kind"]): HostPowerChange => ({
  at,
  host,
  kind,
  powered: kind !== "power-off",
  feeds: { A: true },
});

function timeline(changes: HostPowerChange[]): LiveTimeline {
  return {
    name: "test",
    endSeconds: Math.max(0, ...changes.map((c) => c.at)),
    changes,
    simulation: {
      name: "test",
      horizonSeconds: 0,
      events: [],
      feeds: [],
      hosts: [],
      services: [{ service: "svc", segments: [], downtimeSeconds: 12, outages: 1 }],
    },
  };
}

/** Records what it is asked, in order; `failOn` makes that host's change throw like a failed docker call. */
function fakeController(failOn?: string, onApply?: () => void): PowerController & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async apply(c, planned): Promise<AppliedChange> {
      calls.push(`${c.kind} ${c.host} @${c.at}`);
      onApply?.();
      if (c.host === failOn) throw new Error("docker kill failed: boom");
      return {
        host: c.host,
        kind: c.kind,
        powered: c.powered,
        feeds: c.feeds,
        simSeconds: c.at,
        plannedRealSeconds: planned,
        realSeconds: planned,
        killed: [],
        started: [],
        agentPowered: c.powered,
        healthyAtRealSeconds: null,
      };
    },
    async restore() {
      calls.push("restore");
      return [];
    },
    async waitRestored() {
      calls.push("wait");
    },
    async finish() {
      calls.push("finish");
    },
  };
}

const options = (signal = new AbortController().signal, lines: string[] = []) => ({ speed: 1e9, signal, progress: (l: string) => void lines.push(l) });

describe("playing a live timeline", () => {
  it("groups changes by instant, so one event hits every host at once", () => {
    const groups = byInstant([change(0, "h1", "power-off"), change(0, "h2", "supply"), change(60, "h1", "power-on")]);
    expect(groups.map((g) => g.map((c) => c.host))).toEqual([["h1", "h2"], ["h1"]]);
  });

  it("applies every change in order, then restores once and logs both clocks", async () => {
    const controller = fakeController();
    const lines: string[] = [];
    const log = await playLive(
      timeline([change(0, "h3", "power-off"), change(120, "h3", "power-on")]),
      "dc",
      controller,
      Date.now(),
      options(undefined, lines),
    );
    expect(controller.calls).toEqual(["power-off h3 @0", "power-on h3 @120", "restore", "wait", "finish"]);
    expect(log.changes.map((c) => [c.host, c.kind, c.simSeconds, c.plannedRealSeconds])).toEqual([
      ["h3", "power-off", 0, 0],
      ["h3", "power-on", 120, 120 / 1e9],
    ]);
    expect(log).toMatchObject({ datacenter: "dc", interrupted: false, predicted: [{ service: "svc", downtimeSeconds: 12, outages: 1 }] });
    expect(log.restore?.healthyAtRealSeconds).not.toBeNull();
    expect(lines.some((l) => l.includes("h3 lost power"))).toBe(true);
    expect(lines[lines.length - 1]).toContain("every container is back and healthy");
  });

  it("stops at an interrupt and still restores", async () => {
    const abort = new AbortController();
    const controller = fakeController(undefined, () => abort.abort());
    const log = await playLive(timeline([change(0, "h1", "power-off"), change(10, "h2", "power-off")]), "dc", controller, Date.now(), options(abort.signal));
    expect(controller.calls).toEqual(["power-off h1 @0", "restore", "wait", "finish"]);
    expect(log.interrupted).toBe(true);
  });

  it("restores when a docker call fails, and reports the failure", async () => {
    const controller = fakeController("h2");
    await expect(playLive(timeline([change(0, "h1", "power-off"), change(5, "h2", "power-off")]), "dc", controller, Date.now(), options())).rejects.toThrow(
      "docker kill failed: boom",
    );
    expect(controller.calls).toEqual(["power-off h1 @0", "power-off h2 @5", "restore", "wait", "finish"]);
  });
});
