/**
 * The NOC's power view: the inference rules on hand-made reports, then real host agents
 * (images/host-agent, mutual TLS from a throwaway CA) read by the NOC's poller — a host whose
 * feeds the operator cuts (curl, over mutual TLS) turns unpowered and its replica "no-power",
 * while an agent with a certificate from another CA, an agent that refuses the NOC's
 * certificate, and no agent at all are "unknown", never "powered".
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DiagramModel } from "../../contracts/views/noc";
import { nocSettingsSchema } from "../../contracts/settings/noc";
import type { HostAgent } from "../../images/host-agent/src/agent";
import { renderDatacenterSvg } from "../../images/noc/src/diagram";
import { Monitor } from "../../images/noc/src/monitor";
import { PowerPoller } from "../../images/noc/src/power";
import { derivePower, type AgentReport, type HostReading } from "../../images/noc/src/powerState";
import { createLogger } from "../../images/runtime/log";
import { makeManagementPki, type ManagementPki } from "../support/managementPki";
import { curlPower, startAgent } from "./powerAgents";
import { httpStandIn, type Running } from "./standins";

const log = createLogger({ role: "noc", level: "silent" });
const A = { pdu: "r1-pdu-a", feed: "A" };
const B = { pdu: "r1-pdu-b", feed: "B" };
const A2 = { pdu: "r2-pdu-a", feed: "A" };
const B2 = { pdu: "r2-pdu-b", feed: "B" };

const host = (id: string, rack: string, psus: { pdu: string; feed: string }[], replicas: string[]) => ({ id, rack, psus, replicas });
const MODEL: DiagramModel = {
  datacenter: "fra1",
  domain: "park.test",
  hosts: [host("h1", "r1", [A, B], ["web-0"]), host("h2", "r1", [A], ["app-0"]), host("h3", "r2", [A2, B2], ["web-1"]), host("h4", "r2", [B2], [])],
  replicas: [
    { id: "web-0", service: "web", role: "web", host: "h1" },
    { id: "app-0", service: "app", role: "web", host: "h2" },
    { id: "web-1", service: "web", role: "web", host: "h3" },
  ],
  services: [
    { id: "web", role: "web", replicas: ["web-0", "web-1"] },
    { id: "app", role: "web", replicas: ["app-0"] },
  ],
};

/** What an agent with these PSUs says after `feeds`/`pdus`/failed `units` (images/host-agent/src/power.ts's rule). */
function report(
  psus: { pdu: string; feed: string }[],
  feeds: Record<string, boolean> = {},
  pdus: Record<string, boolean> = {},
  units: string[] = [],
): HostReading {
  const f = Object.fromEntries(psus.map((p) => [p.feed, feeds[p.feed] ?? true]));
  const d = Object.fromEntries(psus.map((p) => [p.pdu, pdus[p.pdu] ?? true]));
  const list = psus.map((p, i) => {
    const id = `psu${i + 1}`;
    const healthy = !units.includes(id);
    return { id, ...p, healthy, powered: healthy && f[p.feed]! && d[p.pdu]! };
  });
  const r: AgentReport = { powered: list.some((p) => p.powered), feeds: f, pdus: d, psus: list };
  return { report: r };
}

describe("what the NOC infers from the agents' reports", () => {
  const states = (view: ReturnType<typeof derivePower>, kind: "feeds" | "pdus" | "racks" | "hosts") =>
    Object.fromEntries(Object.entries(view[kind]).map(([id, e]) => [id, e.state]));

  it("calls a feed dead only when every PSU on it reported no input", () => {
    const all = new Map([
      ["h1", report([A, B], { A: false })],
      ["h2", report([A], { A: false })],
      ["h3", report([A2, B2], { A: false })],
      ["h4", report([B2])],
    ]);
    const view = derivePower(MODEL, all, 1);
    expect(states(view, "feeds")).toEqual({ A: "unpowered", B: "powered" });
    expect(states(view, "pdus")).toEqual({ "r1-pdu-a": "unpowered", "r1-pdu-b": "powered", "r2-pdu-a": "unpowered", "r2-pdu-b": "powered" });
    expect(states(view, "hosts")).toEqual({ h1: "powered", h2: "unpowered", h3: "powered", h4: "powered" });
    expect(states(view, "racks")).toEqual({ r1: "partial", r2: "powered" });

    // One silent host on feed A: its PSU might have input, so feed A is unknown, not dead.
    const silent = new Map(all);
    silent.set("h3", { error: "ECONNREFUSED" });
    const partial = derivePower(MODEL, silent, 2);
    expect(states(partial, "feeds")).toEqual({ A: "unknown", B: "powered" });
    expect(partial.hosts.h3).toEqual({ state: "unknown", detail: "agent did not answer: ECONNREFUSED" });
    expect(states(partial, "racks")).toEqual({ r1: "partial", r2: "unknown" });
  });

  it("takes one live PSU as proof its PDU and feed are live, and a failed unit as no evidence against them", () => {
    const view = derivePower(
      MODEL,
      new Map([
        ["h1", report([A, B], {}, {}, ["psu1", "psu2"])],
        ["h2", report([A])],
      ]),
      1,
    );
    expect(view.hosts.h1!.state).toBe("unpowered");
    expect(view.pdus["r1-pdu-a"]!.state).toBe("powered");
    expect(view.pdus["r1-pdu-b"]!.state).toBe("powered");
    expect(view.feeds.A!.state).toBe("powered");
    expect(view.pdus["r2-pdu-b"]!.state).toBe("unknown");
  });

  it("knows nothing without readings", () => {
    const view = derivePower(MODEL, new Map(), undefined);
    for (const kind of ["feeds", "pdus", "racks", "hosts"] as const) expect(new Set(Object.values(states(view, kind)))).toEqual(new Set(["unknown"]));
  });
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe("the NOC reads real host agents over mutual TLS", () => {
  let pki: ManagementPki;
  let foreign: ManagementPki;
  const agents: HostAgent[] = [];
  let app: Running;
  let deadPort: number;
  const address = { h1: "127.0.0.2", h2: "127.0.0.3", h3: "127.0.0.4", h4: "127.0.0.5" };

  beforeAll(async () => {
    pki = makeManagementPki([address.h1, address.h2, address.h4]);
    foreign = makeManagementPki([address.h3]);
    // h3's agent trusts the datacenter CA for callers but presents a certificate the NOC's CA never signed.
    for (const [h, rack, psus, server] of [
      ["h1", "r1", [A, B], pki.server],
      ["h2", "r1", [A], pki.server],
      ["h3", "r2", [A2, B2], foreign.server],
    ] as const) {
      agents.push(await startAgent({ host: h, rack, psus, address: address[h], server, clientCa: pki.ca }));
    }
    app = await httpStandIn(200);
    deadPort = await freePort();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.management.close()));
    await app?.close();
  });

  const poller = (registry?: Registry, client = pki.noc) =>
    new PowerPoller({
      model: MODEL,
      agents: address,
      port: { h1: agents[0]!.management.port, h2: agents[1]!.management.port, h3: agents[2]!.management.port, h4: deadPort },
      tls: { ca: readFileSync(pki.ca), cert: readFileSync(client.cert), key: readFileSync(client.key) },
      timeoutMs: 5000,
      log,
      ...(registry ? { registry } : {}),
    });

  it("shows a host whose feeds are cut unpowered and greys its replica; the others stay unknown", async () => {
    const registry = new Registry();
    const power = poller(registry);
    const settings = nocSettingsSchema.parse({ intervalMs: 1000, timeoutMs: 5000, historyMinutes: 60 });
    const target = (replica: string, service: string, h: string, port: number) => ({
      service,
      role: "web",
      replica,
      host: h,
      port: { name: "http", port, protocol: "tcp" },
      address: "127.0.0.1",
    });
    // web-0's server is not running at all; app-0's answers.
    const monitor = new Monitor({
      targets: [target("web-0", "web", "h1", deadPort), target("app-0", "app", "h2", app.port)],
      settings,
      domain: "park.test",
      log,
      power,
    });
    try {
      await power.pollOnce();
      await monitor.runRound();
      let view = power.view();
      expect(view.hosts.h1!.state).toBe("powered");
      expect(view.hosts.h2!.state).toBe("powered");
      expect(view.hosts.h3!.state).toBe("unknown"); // its agent says powered, but its certificate is not the datacenter's
      expect(view.hosts.h3!.detail).toMatch(/certificate/i);
      expect(view.hosts.h4!.state).toBe("unknown");
      expect(view.hosts.h4!.detail).toContain("ECONNREFUSED");
      expect(monitor.replicaStates()["web-0"]).toBe("down"); // a powered host: a failed server

      // The operator cuts both of h1's feeds; the agent itself refuses the NOC's attempt.
      expect(await curlPower(address.h1, agents[0]!.management.port, pki.ca, pki.noc, { feeds: { A: false, B: false } })).toBe("403");
      expect(await curlPower(address.h1, agents[0]!.management.port, pki.ca, pki.operator, { feeds: { A: false, B: false } })).toBe("200");
      await power.pollOnce();
      await monitor.runRound();
      view = power.view();
      expect(view.hosts.h1!.state).toBe("unpowered");
      expect(view.hosts.h2!.state).toBe("powered");
      expect(view.pdus["r1-pdu-b"]!.state).toBe("unpowered"); // h1 is its only PSU
      expect(view.pdus["r1-pdu-a"]!.state).toBe("powered"); // h2 still has input on A
      expect(view.feeds.A!.state).toBe("powered");
      expect(view.feeds.B!.state).toBe("unknown"); // r2-pdu-b's hosts are h3 and h4: unread
      expect(view.racks.r1!.state).toBe("partial");
      expect(view.racks.r2!.state).toBe("unknown");

      const status = monitor.status();
      expect(status.replicas).toMatchObject({ "web-0": "no-power", "app-0": "up" });
      expect(status.details["web-0"]).toMatch(/^host h1 has no power/);
      // One round down for a failed server, one dark for want of power; availability is what clients saw.
      expect(status.downtime.web).toEqual({ power: 0.5, failure: 0.5 });
      expect(status.availability.web).toBe(0);
      expect(status.downtime.app).toEqual({ power: 0, failure: 0 });
      expect(status.power?.hosts.h1!.state).toBe("unpowered");

      const svg = renderDatacenterSvg(MODEL, { replicas: status.replicas, downtime: status.downtime, availability: status.availability, power: status.power! });
      expect(svg).toMatch(/class="replica st-no-power"[^>]*data-replica="web-0"/);
      expect(svg).toMatch(/data-host="h1" data-power="unpowered"/);
      expect(svg).toMatch(/data-host="h3" data-power="unknown"/);
      expect(svg).toContain(">0/2 up · 1 no power</text>");
      expect(svg).toContain("no power 50.00%");

      const metrics = await registry.metrics();
      expect(metrics).toContain('noc_power_state{kind="host",id="h1",state="unpowered"} 1');
      expect(metrics).toContain('noc_power_state{kind="host",id="h3",state="powered"} 0');
      expect(metrics).toContain('noc_power_state{kind="host",id="h3",state="unknown"} 1');
      expect(metrics).toMatch(/noc_power_polls_total\{host="h4",result="refused"\} 2/);

      // Power back: the host reads powered again and its replica is a plain failed server.
      expect(await curlPower(address.h1, agents[0]!.management.port, pki.ca, pki.operator, { feeds: { A: true, B: true } })).toBe("200");
      await power.pollOnce();
      expect(power.view().hosts.h1!.state).toBe("powered");
      expect(monitor.replicaStates()["web-0"]).toBe("down");
    } finally {
      await power.stop();
    }
  }, 60_000);

  it("reads nothing with a client certificate the agents refuse, or without one", async () => {
    const refused = poller(undefined, pki.serviceNamedNoc);
    const none = new PowerPoller({ model: MODEL, agents: address, port: agents[0]!.management.port, log });
    try {
      await refused.pollOnce();
      await none.pollOnce();
      for (const p of [refused, none]) for (const h of ["h1", "h2", "h3", "h4"]) expect(p.view().hosts[h]!.state).toBe("unknown");
      expect(refused.view().hosts.h1!.detail).toContain("HTTP 403");
      expect(none.view().hosts.h1!.detail).toContain("no management client certificate");
    } finally {
      await refused.stop();
      await none.stop();
    }
  }, 60_000);
});
