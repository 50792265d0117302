/**
 * One rule for what a lost replica costs (components/spec/redundancy.ts), applied alike by
 * `validate`, the power model (steady state, N-1, the simulator) and the policies sp-101 and
 * sp-111. `validate` refuses mail and file with two replicas, so the model's side of the rule
 * is shown on a plan made from a spec that skipped it: two mail replicas in different racks
 * are not a spare for each other, two web or db replicas are.
 */
import { describe, expect, it } from "vitest";
import { nMinusOne, poweredHosts, powerTopology, serviceStates, serviceVerdicts, simulateScenario } from "../../components/power";
import { planDatacenter } from "../../components/plan";
import { replicasNeeded, replicatesData, survivesReplicaLoss, unreplicatedReplicas, upWith } from "../../components/spec/redundancy";
import type { DatacenterSpec } from "../../components/spec/schema";
import { validateSpec } from "../../components/spec/validate";
import { powerPathSurvivesFeedLoss, redundantServicesSurvive } from "../../policies/rules/power";
import { localSpecInput, messages } from "../policies/support";

describe("the rule", () => {
  it.each([
    ["web", 2, undefined, true, false, 1],
    ["web", 3, 2, true, false, 2],
    ["db", 1, undefined, false, false, 1],
    ["db", 2, undefined, true, true, 1],
    ["db", 3, 2, true, true, 2],
    ["mail", 1, undefined, false, false, 1],
    ["mail", 2, undefined, false, false, 2],
    ["file", 3, 1, false, false, 3],
  ] as const)(
    "%s × %i (minReplicas %s): survives a replica's loss %s, replicates %s, needs %i",
    (role, replicas, minReplicas, survives, replicates, needed) => {
      const svc = { role, replicas, ...(minReplicas !== undefined ? { minReplicas } : {}) };
      expect(survivesReplicaLoss(svc)).toBe(survives);
      expect(replicatesData(svc)).toBe(replicates);
      expect(replicasNeeded(svc)).toBe(needed);
      // The plan's form (replica ids) counts the same as the spec's (a number).
      expect(replicasNeeded({ ...svc, replicas: Array.from({ length: replicas }, (_, i) => `x-${i}`) })).toBe(needed);
      expect(unreplicatedReplicas(svc) !== undefined).toBe(!survives && replicas > 1);
    },
  );
});

describe("a replicated group's arbiter (an HA db's monitor)", () => {
  it.each([
    [2, 2, 0, 0, true, "every member runs: the arbiter is not needed"],
    [2, 1, 1, 0, false, "a member lost and the arbiter too: no failover, no write"],
    [2, 1, 1, 1, true, "a member lost, the arbiter decides"],
    [2, 1, 0, 0, true, "no arbiter in the group: minReplicas alone"],
    [2, 0, 1, 1, false, "nothing runs"],
  ] as const)("%i members, %i running, %i arbiter(s), %i running → %s (%s)", (total, running, arbiters, arbitersRunning, up, _why) => {
    expect(upWith(1, total, running, arbiters, arbitersRunning)).toBe(up);
  });

  it("the model takes a db down when one failure takes a data node and the monitor together", async () => {
    const input = localSpecInput() as { services: { id: string; replicas: number }[] };
    input.services.find((s) => s.id === "db")!.replicas = 2;
    const valid = validateSpec(input);
    if (!valid.ok) throw new Error(JSON.stringify(valid.issues));
    // The planner places the group's monitor itself (components/plan/ha.ts); set it aside to
    // compare a group without an arbiter with one whose arbiter shares a rack with db-0.
    const planned = planDatacenter(valid.spec);
    expect(planned.replicas.some((r) => r.id === "db-monitor")).toBe(true);
    const base = { ...planned, replicas: planned.replicas.filter((r) => r.id !== "db-monitor") };
    const db0 = base.replicas.find((r) => r.id === "db-0")!;
    expect([db0.host, db0.rack]).toEqual(["h3", "r1"]);
    // The monitor as the HA plan adds it: a member of the service's group that is not one of its replicas, here on h1 (rack r1, dual-fed).
    const plan = { ...base, replicas: [...base.replicas, { ...db0, id: "db-monitor", index: 2, host: "h1", feeds: ["A", "B"] }] };
    const downBy = serviceVerdicts(plan, nMinusOne(valid.spec, plan, { transients: false })).find((v) => v.service === "db")!.downBy;
    expect(downBy).toEqual(["rack:r1"]); // db-0 and the monitor; h3 alone, h1 alone, feed A (h1 keeps B) leave a way to fail over
    const without = serviceVerdicts(base, nMinusOne(valid.spec, base, { transients: false })).find((v) => v.service === "db")!.downBy;
    expect(without).toEqual([]);
    const topology = powerTopology(valid.spec);
    expect(serviceStates(plan, poweredHosts(topology, ["rack:r1"])).find((s) => s.service === "db")).toMatchObject({
      up: false,
      running: [expect.stringMatching(/^db-1$/)],
    });
    expect(serviceStates(plan, poweredHosts(topology, ["host:h3"])).find((s) => s.service === "db")!.up).toBe(true);
    const model = { type: "serverpark:index:Datacenter", name: valid.spec.name, props: { model: { spec: valid.spec, plan, target: "docker" } } };
    expect(await messages(redundantServicesSurvive, [model])).toEqual([
      expect.stringMatching(
        /\(db\) is declared redundant .* when rack:r1 fails \(a lost replica fails over only while db-monitor runs, on h1 \(rack r1, feed A\+B\)\)/,
      ),
    ]);
  });
});

/** The local stack with mail at two replicas, past validate (which refuses it). */
function twoMailReplicas(change: (input: any) => void = () => {}): { spec: DatacenterSpec; plan: ReturnType<typeof planDatacenter> } {
  const input = localSpecInput();
  change(input);
  const valid = validateSpec(input);
  if (!valid.ok) throw new Error("the local stack is valid");
  const spec = { ...valid.spec, services: valid.spec.services.map((s) => (s.id === "mail" ? { ...s, replicas: 2 } : s)) };
  const mail = spec.services.find((s) => s.id === "mail")!;
  expect(unreplicatedReplicas(mail)).toMatch(/^mail does not replicate its mailboxes yet/);
  return { spec, plan: planDatacenter(spec) };
}

describe("the model applies it", () => {
  const { spec, plan } = twoMailReplicas();
  const hostOf = (id: string) => plan.replicas.find((r) => r.id === id)!.host;
  const mailHosts = ["mail-0", "mail-1"].map(hostOf);
  const wwwHosts = ["www-0", "www-1"].map(hostOf);

  it("places the two mail replicas on different hosts (the premise)", () => {
    expect(new Set(mailHosts).size).toBe(2);
    expect(plan.services.find((s) => s.id === "mail")).toMatchObject({ redundant: true, stateful: true });
  });

  it("steady state: one mail host dark takes mail down; one www host dark does not take www down", () => {
    const topology = powerTopology(spec);
    const mailDown = serviceStates(plan, poweredHosts(topology, [`host:${mailHosts[0]}`])).find((s) => s.service === "mail")!;
    expect(mailDown).toMatchObject({ up: false, needed: 2, minReplicas: 1 });
    expect(mailDown.running).toHaveLength(1);
    const wwwUp = serviceStates(plan, poweredHosts(topology, [`host:${wwwHosts[0]}`])).find((s) => s.service === "www")!;
    expect(wwwUp).toMatchObject({ up: true, needed: 1 });
  });

  it("N-1: each mail host alone takes mail down, and the verdict says it fails though it is declared redundant", () => {
    const verdict = serviceVerdicts(plan, nMinusOne(spec, plan, { transients: false })).find((v) => v.service === "mail")!;
    expect(verdict.redundant).toBe(true);
    expect(verdict.survivesNMinusOne).toBe(false);
    expect(verdict.downBy).toEqual(expect.arrayContaining(mailHosts.map((h) => `host:${h}`)));
  });

  it("the simulator: mail is down while one of its hosts is", () => {
    const run = simulateScenario(spec, plan, { generatorStart: "ok", duration: 3600, events: [{ at: 600, fail: `host:${mailHosts[1]}`, for: 600 }] });
    expect(run.services.find((s) => s.service === "mail")!.downtimeSeconds).toBe(600);
    expect(run.services.find((s) => s.service === "www")!.downtimeSeconds).toBe(0);
  });

  it("sp-111 reports mail, saying that it does not replicate", async () => {
    const model = { type: "serverpark:index:Datacenter", name: spec.name, props: { model: { spec, plan, target: "docker" } } };
    expect(await messages(redundantServicesSurvive, [model])).toEqual([
      expect.stringMatching(
        /\(mail\) is declared redundant but drops below 2 running replicas when .*host:.* fails \(mail does not replicate its data, so losing any replica loses data\)/,
      ),
    ]);
  });

  it("sp-101: a feed loss that darkens one mail host fails although the other mail replica keeps power", async () => {
    // mail-1's host (h4 in today's plan) on feed A alone; mail-0 stays on the dual-fed h2.
    expect(mailHosts).toEqual(["h2", "h4"]);
    const single = twoMailReplicas((s) => (s.hosts.find((h: { id: string }) => h.id === "h4").psus = ["r2-pdu-a"]));
    expect(["mail-0", "mail-1"].map((id) => single.plan.replicas.find((r) => r.id === id)!.host)).toEqual(["h2", "h4"]);
    const model = { type: "serverpark:index:Datacenter", name: spec.name, props: { model: { ...single, target: "docker" } } };
    const found = await messages(powerPathSurvivesFeedLoss, [model]);
    expect(found).toContainEqual(
      expect.stringMatching(
        /^host h4 \(rack r2, PSUs r2-pdu-a→feed A\) loses power when feed A is lost, and service mail keeps 1 of 2 replicas running \(needs all 2: mail does not replicate its data, so each replica holds data no other has\)/,
      ),
    );
    // www-1 and ns-1 run on h4 too; a stateless service with a replica elsewhere is no finding.
    expect(found.filter((m) => /service (edge|www|ns)\b/.test(m))).toEqual([]);
  });
});
