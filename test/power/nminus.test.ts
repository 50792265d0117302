import { describe, expect, it } from "vitest";
import {
  evaluatePower,
  nMinusOne,
  nMinusTwo,
  poweredHosts,
  powerTopology,
  serviceStates,
  serviceVerdicts,
  UnknownComponentError,
} from "../../components/power";
import { loadPlan } from "../../cli/stack";
import { datacenter } from "./fixtures";

const twoFeeds = [
  { id: "A", utility: { capacityKw: 10 } },
  { id: "B", utility: { capacityKw: 10 } },
];

describe("steady state", () => {
  it("dual-PSU hosts ride through either feed, single-PSU ones only the other", () => {
    const { spec } = datacenter({
      feeds: twoFeeds,
      racks: [
        {
          id: "r1",
          pdus: [
            { id: "p-a", feed: "A", capacityKw: 5 },
            { id: "p-b", feed: "B", capacityKw: 5 },
          ],
        },
      ],
      hosts: [
        { id: "h1", rack: "r1", psus: ["p-a", "p-b"], powerWatts: 1000 },
        { id: "h2", rack: "r1", psus: ["p-a"], powerWatts: 1000 },
      ],
    });
    const t = powerTopology(spec);
    expect([...poweredHosts(t, [])]).toEqual(["h1", "h2"]);
    expect([...poweredHosts(t, ["utility:A"])]).toEqual(["h1"]);
    expect([...poweredHosts(t, ["feed:B"])]).toEqual(["h1", "h2"]);
    expect([...poweredHosts(t, ["rack:r1"])]).toEqual([]);
    expect(evaluatePower(t, []).pduLoadKw).toEqual({ "p-a": 1.5, "p-b": 0.5 });
    expect(evaluatePower(t, ["utility:A"]).pduLoadKw).toEqual({ "p-a": 0, "p-b": 1 });
  });

  it("a generator carries the feed in steady state when the utility is gone", () => {
    const { spec } = datacenter({
      feeds: [{ id: "A", utility: { capacityKw: 10 }, generator: { capacityKw: 10, startDelaySeconds: 10, fuelHours: 8 } }],
      racks: [{ id: "r1", pdus: [{ id: "p-a", feed: "A", capacityKw: 5 }] }],
      hosts: [{ id: "h1", rack: "r1", psus: ["p-a"], powerWatts: 1000 }],
    });
    const t = powerTopology(spec);
    expect(evaluatePower(t, ["utility:A"]).feedSource).toEqual({ A: "generator" });
    expect([...poweredHosts(t, ["utility:A", "generator:A"])]).toEqual([]);
  });

  it("load shifted by a failure trips an overloaded PDU, taking its hosts with it", () => {
    // Two dual-PSU hosts of 0.6 kW: 0.6 kW per PDU normally, 1.2 kW on the survivor.
    const { spec } = datacenter({
      feeds: twoFeeds,
      racks: [
        {
          id: "r1",
          pdus: [
            { id: "p-a", feed: "A", capacityKw: 1 },
            { id: "p-b", feed: "B", capacityKw: 1 },
          ],
        },
      ],
      hosts: [
        { id: "h1", rack: "r1", psus: ["p-a", "p-b"], powerWatts: 600 },
        { id: "h2", rack: "r1", psus: ["p-a", "p-b"], powerWatts: 600 },
      ],
    });
    const t = powerTopology(spec);
    expect(poweredHosts(t, []).size).toBe(2);
    const after = evaluatePower(t, ["pdu:p-a"]);
    expect([...after.poweredHosts]).toEqual([]);
    expect(after.tripped).toEqual(["pdu:p-b"]);
  });

  it("a host with no power runs nothing, and a service needs its minimum of replicas", () => {
    const { spec, plan } = datacenter({
      feeds: twoFeeds,
      racks: [
        { id: "r1", pdus: [{ id: "p-a", feed: "A", capacityKw: 5 }] },
        { id: "r2", pdus: [{ id: "p-b", feed: "B", capacityKw: 5 }] },
      ],
      hosts: [
        { id: "h1", rack: "r1", psus: ["p-a"], powerWatts: 500 },
        { id: "h2", rack: "r2", psus: ["p-b"], powerWatts: 500 },
      ],
      services: [
        { id: "two", role: "web", replicas: 2, minReplicas: 2, plan: "small", networks: ["private"] },
        { id: "one", role: "web", replicas: 2, minReplicas: 1, plan: "small", networks: ["private"] },
      ],
    });
    const states = serviceStates(plan, poweredHosts(powerTopology(spec), ["feed:A"]));
    const hostOf = new Map(plan.replicas.map((r) => [r.id, r.host]));
    for (const s of states) for (const r of s.running) expect(hostOf.get(r)).toBe("h2");
    expect(states.map((s) => [s.service, s.running.length, s.up])).toEqual([
      ["two", 1, false],
      ["one", 1, true],
    ]);
  });

  it("an unknown component is a clear error listing the known ones", () => {
    const { spec } = datacenter({
      feeds: twoFeeds,
      racks: [{ id: "r1", pdus: [{ id: "p-a", feed: "A", capacityKw: 5 }] }],
      hosts: [{ id: "h1", rack: "r1", psus: ["p-a"] }],
    });
    const t = powerTopology(spec);
    expect(() => poweredHosts(t, ["utility:C"])).toThrow(UnknownComponentError);
    expect(() => poweredHosts(t, ["utility:C"])).toThrow('unknown component "utility:C": known utility components: utility:A, utility:B');
    expect(() => poweredHosts(t, ["psu:x"])).toThrow(/expected <kind>:<id> with kind one of feed, utility, ups, generator, pdu, rack, host/);
    expect(() => poweredHosts(t, ["ups:A"])).toThrow("this datacenter has no ups components");
  });
});

describe("N-1", () => {
  it("reports a UPS that cannot bridge the generator start as an interruption, not an outage", () => {
    // 1 kW on a 10 kW / 3 s UPS lasts 30 s; the generator needs 60 s.
    const { spec, plan } = datacenter({
      feeds: [
        {
          id: "A",
          utility: { capacityKw: 10 },
          ups: { capacityKw: 10, runtimeMinutes: 0.05 },
          generator: { capacityKw: 10, startDelaySeconds: 60, fuelHours: 8 },
        },
      ],
      racks: [{ id: "r1", pdus: [{ id: "p-a", feed: "A", capacityKw: 10 }] }],
      hosts: [{ id: "h1", rack: "r1", psus: ["p-a"], powerWatts: 1000 }],
    });
    const rows = nMinusOne(spec, plan);
    const utility = rows.find((r) => r.component === "utility:A")!;
    expect(utility).toMatchObject({ servicesDown: [], servicesInterrupted: ["svc"], hostsDown: [] });
    expect(rows.find((r) => r.component === "feed:A")).toMatchObject({ servicesDown: ["svc"], servicesInterrupted: [] });
    expect(serviceVerdicts(plan, rows)[0]).toMatchObject({ survivesNMinusOne: false, uninterrupted: false, interruptedBy: ["utility:A"] });
  });

  it("N-2 lists only pairs that take down something neither failure does alone", () => {
    const { spec, plan } = datacenter({
      feeds: twoFeeds,
      racks: [
        {
          id: "r1",
          pdus: [
            { id: "p-a", feed: "A", capacityKw: 5 },
            { id: "p-b", feed: "B", capacityKw: 5 },
          ],
        },
      ],
      hosts: [{ id: "h1", rack: "r1", psus: ["p-a", "p-b"], powerWatts: 1000 }],
    });
    expect(
      nMinusOne(spec, plan)
        .filter((r) => r.servicesDown.length > 0)
        .map((r) => r.component),
    ).toEqual(["rack:r1", "host:h1"]);
    const pairs = nMinusTwo(spec, plan).map((r) => r.component);
    expect(pairs).toContain("feed:A+feed:B");
    expect(pairs).toContain("utility:A+pdu:p-b");
    expect(pairs.some((p) => p.includes("rack:r1") || p.includes("host:h1"))).toBe(false);
  });
});

describe("the local stack", () => {
  const { spec, plan } = loadPlan("local", process.cwd());
  const rows = nMinusOne(spec, plan);

  it("N-1 table matches the reviewed snapshot", async () => {
    const text = rows
      .map((r) =>
        [
          r.component.padEnd(14),
          `down=[${r.servicesDown.join(" ")}]`,
          `interrupted=[${r.servicesInterrupted.join(" ")}]`,
          `dark=[${r.hostsDown.join(" ")}]`,
        ].join(" "),
      )
      .join("\n");
    await expect(`${text}\n`).toMatchFileSnapshot("__snapshots__/local-n-1.txt");
  });

  it("the redundant services survive every single failure; the single-replica ones do not", () => {
    const verdicts = serviceVerdicts(plan, rows);
    const redundant = verdicts.filter((v) => v.redundant);
    // Not vacuous: the db group is among the redundant services.
    expect(redundant.map((v) => v.service)).toContain("db");
    expect(redundant.every((v) => v.survivesNMinusOne && v.uninterrupted)).toBe(true);
    // A single-replica service falls with the host it runs on.
    for (const v of verdicts.filter((v) => !v.redundant)) {
      const hosts = plan.replicas.filter((r) => r.service === v.service).map((r) => `host:${r.host}`);
      expect(v.survivesNMinusOne, v.service).toBe(false);
      expect(v.downBy).toEqual(expect.arrayContaining(hosts));
    }
    // h3 (feed A only) and h6 (feed B only) each carry one db data node; the monitor is on h8 in
    // rack r3. Each feed's loss darkens one data node and the db fails over to the other.
    const db = plan.replicas.filter((r) => r.service === "db");
    expect(db.map((r) => [r.host, r.rack])).toEqual([
      ["h3", "r1"],
      ["h6", "r2"],
      ["h8", "r3"],
    ]);
    for (const [feed, host] of [
      ["feed:A", "h3"],
      ["feed:B", "h6"],
    ]) {
      const row = rows.find((r) => r.component === feed)!;
      expect(row.hostsDown).toEqual([host]);
      expect(row.servicesDown).toEqual([]);
    }
    expect(rows.find((r) => r.component === "rack:r1")!.servicesDown).not.toContain("db");
  });
});
