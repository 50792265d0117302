/**
 * The live run's prediction (components/power/live/predict.ts): scenarios on the local stack
 * → each service's down intervals on the real clock, worked out by hand from the model in the
 * module's header (host cut → power back + the role's boot time; any replica serves a
 * direct service; the proxy's ejection windows for a pool that was wholly down). The local
 * stack's db is a highly available group (data nodes db-0 on h3 and db-1 on h6, the monitor on
 * h8): the cases of boot arithmetic use single-replica services (mail on h2), and the db's own
 * cases below check the failover of components/power/live/haGroup.ts (in depth:
 * predict-ha.test.ts).
 */
import { describe, expect, it } from "vitest";
import { readScenario } from "../../cli/scenario";
import { loadPlan } from "../../cli/stack";
import { hostDarkIntervals, intersect, normalize, predictDowntime, proxiedRecovery, sharedBoots, total } from "../../components/power/live/predict";
import { liveTimeline } from "../../components/power/live/timeline";
import { loadSlowdown } from "../../components/power/live/boot";

const local = loadPlan("local", process.cwd());
// Round figures, so the expected intervals can be read off by hand.
const boot = { web: 2, proxy: 1, dns: 1, mail: 2, file: 2, db: 4, game: 2, noc: 1 };
const PROXY = { passive: { failures: 3, ejectMs: 10_000 }, connectTimeoutMs: 2000 };

const scenarioOf = (s: unknown) => (typeof s === "string" ? readScenario(s, process.cwd()) : s);

function predict(scenario: unknown, speed = 60) {
  const timeline = liveTimeline(local.spec, local.plan, scenarioOf(scenario));
  const rows = predictDowntime(local.spec, local.plan, timeline, { speed, bootSeconds: boot });
  return Object.fromEntries(rows.map((r) => [r.service, r.down.map((d) => [d.from, d.to])]));
}

/** The db's earliest and latest down intervals; `primary` the data node that is primary at the start. */
function dbRange(scenario: unknown, speed = 60, primary?: string) {
  const timeline = liveTimeline(local.spec, local.plan, scenarioOf(scenario));
  const row = predictDowntime(local.spec, local.plan, timeline, {
    speed,
    bootSeconds: boot,
    ...(primary ? { primaries: { db: primary } } : {}),
  }).find((r) => r.service === "db")!;
  return { earliest: row.down.map((d) => [d.from, d.to]), latest: row.latest.down.map((d) => [d.from, d.to]) };
}

describe("interval arithmetic", () => {
  it("merges overlapping and touching intervals, drops empty ones, and intersects lists", () => {
    expect(
      normalize([
        { from: 3, to: 4 },
        { from: 0, to: 1 },
        { from: 1, to: 2 },
        { from: 5, to: 5 },
      ]),
    ).toEqual([
      { from: 0, to: 2 },
      { from: 3, to: 4 },
    ]);
    expect(
      total([
        { from: 0, to: 1.5 },
        { from: 1, to: 2 },
      ]),
    ).toBe(2);
    expect(
      intersect([
        [{ from: 0, to: 5 }],
        [
          { from: 1, to: 2 },
          { from: 4, to: 9 },
        ],
      ]),
    ).toEqual([
      { from: 1, to: 2 },
      { from: 4, to: 5 },
    ]);
    expect(intersect([[{ from: 0, to: 5 }], []])).toEqual([]);
  });
});

describe("boots sharing the machine's cores", () => {
  it("alone, or no more boots than cores: each takes its own time", () => {
    expect(sharedBoots([{ start: 1, work: 3 }], 2)).toEqual([4]);
    expect(
      sharedBoots(
        [
          { start: 0, work: 2 },
          { start: 0, work: 4 },
        ],
        2,
      ),
    ).toEqual([2, 4]);
  });
  it("four boots on two cores: half a core each until the shortest is done, then faster", () => {
    // Works 1, 2, 2, 3 at 0.5 each: the first ends at 2 s; three left (1, 1, 2) at 2/3: the
    // next two end 1.5 s later (3.5 s); the last (1 left) alone at full speed: 4.5 s.
    const ends = sharedBoots(
      [
        { start: 0, work: 1 },
        { start: 0, work: 2 },
        { start: 0, work: 2 },
        { start: 0, work: 3 },
      ],
      2,
    );
    expect(ends.map((t) => Math.round(t * 1000) / 1000)).toEqual([2, 3.5, 3.5, 4.5]);
  });
  it("with the machine's other work worth 2 boots: one boot on two cores runs at half speed, three at 2/5 of a core each", () => {
    expect(sharedBoots([{ start: 0, work: 1 }], 2, 2)).toEqual([2]);
    // Three boots + 2 of background on 2 cores: 2/5 of a core each until the first is done.
    expect(
      sharedBoots(
        [
          { start: 0, work: 1 },
          { start: 0, work: 1 },
          { start: 0, work: 1 },
        ],
        2,
        2,
      ),
    ).toEqual([2.5, 2.5, 2.5]);
  });
  it("a boot that begins later joins the sharing then", () => {
    // Two on one core: 0-1 s the first alone (1 of 2 done); then both at 0.5: the first ends at 3 s, the second (1 s) at 3 s too.
    expect(
      sharedBoots(
        [
          { start: 0, work: 2 },
          { start: 1, work: 1 },
        ],
        1,
      ),
    ).toEqual([3, 3]);
  });
  it("every host booting at once (both feeds lost) on two cores: each role's return is later than alone, in the order of their works", () => {
    const timeline = liveTimeline(local.spec, local.plan, scenarioOf("utility:A@0/4h,utility:B@0/4h,generator:A@0,generator:B@0"));
    const alone = predictDowntime(local.spec, local.plan, timeline, { speed: 600, bootSeconds: boot });
    const shared = predictDowntime(local.spec, local.plan, timeline, { speed: 600, bootSeconds: boot, cores: 2 });
    // The latest end shares the cores among the boots; the earliest assumes they do not slow each other.
    const end = (rows: typeof alone, s: string) => rows.find((r) => r.service === s)!.latest.down.at(-1)!.to;
    const earliestEnd = (rows: typeof alone, s: string) => rows.find((r) => r.service === s)!.down.at(-1)!.to;
    for (const s of ["ns", "mail", "files", "db", "noc"]) {
      expect(end(shared, s), s).toBeGreaterThan(end(alone, s));
      expect(earliestEnd(shared, s), s).toBe(earliestEnd(alone, s));
    }
    // Works here: dns 1 < file 2 < db 4: they come back in that order.
    expect(end(shared, "ns")).toBeLessThan(end(shared, "files"));
    expect(end(shared, "files")).toBeLessThan(end(shared, "db"));
  });
});

describe("a role's boot as a range", () => {
  it("the prediction holds both ends: shortest and longest recorded boot", () => {
    const timeline = liveTimeline(local.spec, local.plan, scenarioOf("host:h2@0/1m"));
    const [mail] = predictDowntime(local.spec, local.plan, timeline, { speed: 60, bootSeconds: { ...boot, mail: { min: 2, max: 5 } } }).filter(
      (r) => r.service === "mail",
    );
    expect(mail).toMatchObject({ down: [{ from: 0, to: 3 }], downSeconds: 3, latest: { down: [{ from: 0, to: 6 }], seconds: 6 } });
  });
});

describe("the machine's load stretches every boot", () => {
  it("load 8 on 2 cores: 1 + 0.25 × 4 = twice as long; idle or unknown: as recorded", () => {
    expect(loadSlowdown(8, 2)).toBe(2);
    expect(loadSlowdown(0, 2)).toBe(1);
    const timeline = liveTimeline(local.spec, local.plan, scenarioOf("host:h2@0/1m"));
    const mail = (o: object) =>
      predictDowntime(local.spec, local.plan, timeline, { speed: 60, bootSeconds: { ...boot, mail: { min: 2, max: 3 } }, ...o }).find(
        (r) => r.service === "mail",
      )!;
    expect(mail({}).down).toEqual([{ from: 0, to: 3 }]);
    expect(mail({ load: 8, cores: 2 })).toMatchObject({ down: [{ from: 0, to: 5 }], latest: { down: [{ from: 0, to: 7 }] } });
  });
});

describe("the proxy's ejection windows", () => {
  // The third failed request (probes every 0.25 s) fails half the 2 s connect timeout after it started: ejected at 1.5 s.
  it("a pool back before its first ejection is back at once", () => {
    expect(proxiedRecovery({ from: 0, to: 1.5 }, 1, PROXY)).toBe(1.5);
  });
  it("a pool ready during the ejection window gets traffic when the window ends", () => {
    expect(proxiedRecovery({ from: 0, to: 3 }, 1, PROXY)).toBe(11.5);
    expect(proxiedRecovery({ from: 0, to: 11.5 }, 10, PROXY)).toBe(11.5);
  });
  it("a pool still down at the window's end is ejected again: after a 2 s timeout while dark, at once once its host has power", () => {
    // Window 1.5–11.5, the retry at 11.5 times out at 13.5 (host dark until 15), window 13.5–23.5.
    expect(proxiedRecovery({ from: 0, to: 16.5 }, 15, PROXY)).toBe(23.5);
    // Host back at 11: the retry at 11.5 is refused at once, window 11.5–21.5.
    expect(proxiedRecovery({ from: 0, to: 13 }, 11, PROXY)).toBe(21.5);
    // Ready while the retry at 11.5 is still waiting for its timeout: up at once.
    expect(proxiedRecovery({ from: 0, to: 13 }, 14, PROXY)).toBe(13);
  });
  it("less traffic ejects later (one request a second: the third fails at 3 s)", () => {
    expect(proxiedRecovery({ from: 0, to: 5 }, 1, PROXY, 1)).toBe(13);
    expect(proxiedRecovery({ from: 0, to: 2.5 }, 1, PROXY, 1)).toBe(2.5);
  });
});

describe("scenario → predicted down intervals (local stack, speed 60)", () => {
  it("h2 (mail's only host, and edge-0) fails for a minute: mail is down from the cut until 1 s + mail's boot; nothing else", () => {
    expect(predict("host:h2@0/1m")).toEqual({ www: [], edge: [], ns: [], mail: [[0, 3]], files: [], db: [], arena: [], noc: [] });
  });

  it("h3 (db-0's host) fails for a minute: the primary's host back and booted (5 s) before a failover (6.5-8.5 s) would end; a standby's loss costs nothing", () => {
    // Nothing but the db is on h3.
    expect(predict("host:h3@0/1m")).toEqual({ www: [], edge: [], ns: [], mail: [], files: [], db: [], arena: [], noc: [] });
    expect(dbRange("host:h3@0/1m", 60, "db-0")).toEqual({ earliest: [[0, 5]], latest: [[0, 5]] });
    expect(dbRange("host:h3@0/1m", 60, "db-1")).toEqual({ earliest: [], latest: [] });
    // The primary unknown: from no outage (db-1 was primary) to db-0's boot.
    expect(dbRange("host:h3@0/1m")).toEqual({ earliest: [], latest: [[0, 5]] });
  });

  it("h3 fails for ten minutes: the monitor promotes db-1 on h6 after the failover time, not after h3's 10 s + boot", () => {
    expect(dbRange("host:h3@0/10m", 60, "db-0")).toEqual({ earliest: [[0, 6.5]], latest: [[0, 8.5]] });
    expect(dbRange("host:h3@0/10m")).toEqual({ earliest: [], latest: [[0, 8.5]] });
    // The same cut with the monitor's host h8 dark too: nobody promotes db-1, db waits for db-0.
    expect(dbRange("host:h3@0/10m,host:h8@0/10m", 60, "db-0")).toEqual({ earliest: [[0, 14]], latest: [[0, 14]] });
  });

  it("h1 (www-0, ns-0, arena-0) fails for a minute: www and ns are served by their other replica; arena waits for the proxy's ejection to end", () => {
    const p = predict("host:h1@0/1m");
    expect(p).toMatchObject({ www: [], ns: [], edge: [] });
    // arena ready at 3 s (1 s + boot), but ejected 1.5–11.5 s: back at 11.5 s.
    expect(p.arena).toEqual([[0, 11.5]]);
  });

  it("a longer cut of h1 runs into a second ejection window", () => {
    expect(predict("host:h1@0/15m").arena).toEqual([[0, 23.5]]);
  });

  it("the speed compresses the power timeline but not the boot time", () => {
    expect(predict("host:h2@0/1m", 6).mail).toEqual([[0, 12]]);
    expect(predict("host:h2@1m/1m", 30).mail).toEqual([[2, 6]]);
  });

  it("overlapping cuts of both hosts of a service: down only while neither answers", () => {
    // h1 dark 0–2 s, h4 dark 1–3 s. ns-0 down 0–3, ns-1 1–4: ns down 1–3.
    // www-0 down 0–4, www-1 1–5.
    const p = predict("host:h1@0/2m,host:h4@1m/2m");
    expect(p.ns).toEqual([[1, 3]]);
    // www: both down 1–4; the proxy ejected both at 2.5 s (1 s + 0.5 s of requests + 1 s) until 12.5 s.
    expect(p.www).toEqual([[1, 12.5]]);
    // noc (only on h4): 1 s to 3 s + 1 s boot.
    expect(p.noc).toEqual([[1, 4]]);
    expect(p.edge).toEqual([]);
  });

  it("a proxy outage takes the proxied services down with it", () => {
    // h2 (edge-0, mail-0) and h5 (edge-1, files-0) both dark 0–1 s: edge down 0–2 s.
    const p = predict("host:h2@0/1m,host:h5@0/1m");
    expect(p.edge).toEqual([[0, 2]]);
    expect(p.www).toEqual([[0, 2]]);
    expect(p.arena).toEqual([[0, 2]]);
    expect(p.mail).toEqual([[0, 3]]);
    expect(p.files).toEqual([[0, 3]]);
  });

  it("a proxy that rebooted too starts with nothing ejected: at the earliest the pool is back when it is ready, at the latest the fresh proxy ejects it once", () => {
    // h1, h2, h4, h5 dark 0–5 s: edge answers again at 6 s, www and arena are ready at 7 s.
    // Earliest: the order of boots that spares the pool (its upstreams ready by the proxy's
    // first requests) — back at 7 s. Latest: the fresh proxy ejects them after its third
    // failed request (6.5 s) until 16.5 s. Never the windows since the cut (1.5–11.5 s): they
    // belonged to proxies that no longer run.
    const timeline = liveTimeline(local.spec, local.plan, scenarioOf("host:h1@0/5m,host:h2@0/5m,host:h4@0/5m,host:h5@0/5m"));
    const rows = (bootSeconds: object) => predictDowntime(local.spec, local.plan, timeline, { speed: 60, bootSeconds: { ...boot, ...bootSeconds } });
    const row = (service: string, bootSeconds = {}) => rows(bootSeconds).find((r) => r.service === service)!;
    expect(row("edge").down).toEqual([{ from: 0, to: 6 }]);
    for (const s of ["www", "arena"]) {
      expect(row(s).down, s).toEqual([{ from: 0, to: 7 }]);
      expect(row(s).latest.down, s).toEqual([{ from: 0, to: 16.5 }]);
    }
    // Ready before the proxy answers: back with the proxy at both ends.
    expect(row("www", { web: 0.5 })).toMatchObject({ down: [{ from: 0, to: 6 }], latest: { down: [{ from: 0, to: 6 }] } });
  });

  it("a host still dark at the end boots when the run restores power", () => {
    expect(predict({ duration: "2m", events: [{ at: 0, fail: "host:h2" }] }).mail).toEqual([[0, 4]]);
  });

  it("utility loss on feed A with generator A failing: after the UPS runtime h3 goes dark until the utility returns; db fails over to db-1 on h6 (feed B)", () => {
    const timeline = liveTimeline(local.spec, local.plan, scenarioOf("utility:A@0/4h,generator:A@0"));
    const dark = hostDarkIntervals(timeline, 600);
    // Only h3 is fed from A alone; the dual-corded hosts stay up on feed B.
    expect([...dark.keys()]).toEqual(["h3"]);
    const [h3] = dark.get("h3")!;
    expect(h3!.from).toBeGreaterThan(0);
    expect(h3!.to).toBe((4 * 3600) / 600);
    const cut = Math.round(h3!.from * 1000) / 1000;
    // db-0 primary: down for the failover (6.5-8.5 s), not until the utility returns (24 s) + boot.
    expect(dbRange("utility:A@0/4h,generator:A@0", 600, "db-0")).toEqual({ earliest: [[cut, cut + 6.5]], latest: [[cut, cut + 8.5]] });
    const p = predict("utility:A@0/4h,generator:A@0", 600);
    for (const s of ["www", "edge", "ns", "mail", "files", "db", "arena", "noc"]) expect(p[s], s).toEqual([]);
  });

  it("anchored on when the controller applied the changes: a cut applied late and a boot begun late move the outage with them", () => {
    const timeline = liveTimeline(local.spec, local.plan, scenarioOf("host:h2@0/1m"));
    const applied = {
      changes: [
        { host: "h2", kind: "power-off", realSeconds: 0.3 },
        { host: "h2", kind: "power-on", realSeconds: 2.2 },
      ],
    };
    const rows = predictDowntime(local.spec, local.plan, timeline, { speed: 60, bootSeconds: boot, applied });
    expect(rows.find((r) => r.service === "mail")!.down).toEqual([{ from: 0.3, to: 4.2 }]);
    // Still dark at the end: it boots when the restore began.
    const dark = liveTimeline(local.spec, local.plan, { duration: "2m", events: [{ at: 0, fail: "host:h2" }] });
    const restored = predictDowntime(local.spec, local.plan, dark, {
      speed: 60,
      bootSeconds: boot,
      applied: { changes: [{ host: "h2", kind: "power-off", realSeconds: 0.1 }], restoreAtRealSeconds: 2.5 },
    });
    expect(restored.find((r) => r.service === "mail")!.down).toEqual([{ from: 0.1, to: 4.5 }]);
  });

  it("a working generator: nothing goes down", () => {
    const p = predict({ generatorStart: "ok", events: [{ at: 0, fail: "utility:A", for: "30m" }] });
    expect(Object.values(p).flat()).toEqual([]);
  });
});
