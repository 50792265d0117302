/** The host agent in-process: power model, endpoints, metrics and config errors. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostAgentEnv } from "../../images/host-agent/src/config";
import { startHostAgent, type HostAgent } from "../../images/host-agent/src/agent";
import { PowerState } from "../../images/host-agent/src/power";
import { ConfigError, parseConfig } from "../../images/runtime/config";
import { createLogger } from "../../images/runtime/log";

const ENV = {
  SP_DATACENTER: "fra1",
  SP_HOST_ID: "h1",
  SP_RACK: "r1",
  SP_HOST_KIND: "dedicated",
  SP_PSUS: JSON.stringify([
    { pdu: "pdu-a1", feed: "A" },
    { pdu: "pdu-b1", feed: "B" },
  ]),
  SP_MGMT_PORT: "1",
};

describe("PowerState", () => {
  const psus = [
    { id: "psu1", pdu: "pdu-a1", feed: "A" },
    { id: "psu2", pdu: "pdu-b1", feed: "B" },
  ];
  it.each([
    [{}, true],
    [{ feeds: { A: false } }, true],
    [{ feeds: { A: false, B: false } }, false],
    [{ feeds: { A: false }, pdus: { "pdu-b1": false } }, false],
    [{ feeds: { A: false }, psus: { psu2: false } }, false],
    [{ psus: { psu1: false } }, true],
  ])("after %j the host is powered: %s", (change, powered) => {
    const state = new PowerState(psus);
    expect(state.apply(change)).toEqual([]);
    expect(state.snapshot().powered).toBe(powered);
  });

  it("changes nothing when one name is unknown", () => {
    const state = new PowerState(psus);
    expect(state.apply({ feeds: { A: false, C: false } })).toEqual(['unknown feed "C"; this host\'s feeds are A, B']);
    expect(state.snapshot().feeds).toEqual({ A: true, B: true });
  });
});

describe("host agent config", () => {
  it("rejects bad PSU lists with the variable path", () => {
    const bad = { ...ENV, SP_PSUS: '[{"pdu":"p1","feed":"A"},{"pdu":"p 2"}]', SP_HOST_KIND: "vm" };
    expect(() => parseConfig(hostAgentEnv, bad)).toThrow(ConfigError);
    try {
      parseConfig(hostAgentEnv, bad);
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        'SP_HOST_KIND: expected one of "dedicated"|"virtualization" (got "vm")',
        "SP_PSUS[1].pdu: expected a name of letters, digits, '.', '_' or '-' (got \"p 2\")",
        "SP_PSUS[1].feed is missing; expected a name of letters, digits, '.', '_' or '-'",
      ]);
    }
  });
});

describe("host agent endpoints", () => {
  let agent: HostAgent;
  const url = (path: string) => `http://127.0.0.1:${agent.management.port}${path}`;
  const post = (body: string) => fetch(url("/power"), { method: "POST", body, headers: { "content-type": "application/json" } });

  beforeAll(async () => {
    const config = { ...parseConfig(hostAgentEnv, ENV), SP_MGMT_PORT: 0, SP_LISTEN: "127.0.0.1" };
    agent = await startHostAgent(config, createLogger({ role: "host-agent", level: "silent" }));
  });
  afterAll(() => agent.management.close());

  it("tells who it is", async () => {
    expect(await (await fetch(url("/identity"))).json()).toEqual({
      datacenter: "fra1",
      host: "h1",
      rack: "r1",
      kind: "dedicated",
      psus: [
        { id: "psu1", pdu: "pdu-a1", feed: "A" },
        { id: "psu2", pdu: "pdu-b1", feed: "B" },
      ],
    });
  });

  it("plays out a feed failure: one feed down keeps it up, both down take it down", async () => {
    let res = await post('{"feeds":{"A":false}}');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { powered: boolean }).powered).toBe(true);
    expect((await fetch(url("/healthz"))).status).toBe(200);

    res = await post('{"feeds":{"B":false}}');
    expect(((await res.json()) as { powered: boolean }).powered).toBe(false);
    expect((await fetch(url("/healthz"))).status).toBe(503);
    const metrics = await (await fetch(url("/metrics"))).text();
    expect(metrics).toContain('serverpark_host_powered{host="h1",rack="r1"} 0');
    expect(metrics).toContain('serverpark_host_psu_powered{host="h1",psu="psu1",pdu="pdu-a1",feed="A"} 0');

    res = await post('{"feeds":{"A":true,"B":true}}');
    expect(((await res.json()) as { powered: boolean }).powered).toBe(true);
    expect(await (await fetch(url("/power"))).json()).toMatchObject({ powered: true, feeds: { A: true, B: true } });
  });

  it.each([
    ["not json", "body is not valid JSON"],
    ["{}", 'expected at least one of "feeds", "pdus" or "psus"'],
    ['{"feeds":{"A":"off"}}', "expected boolean"],
    ['{"feed":{"A":false}}', 'Unrecognized key: "feed"'],
    ['{"psus":{"psu9":false}}', 'unknown psu "psu9"; this host\'s psus are psu1, psu2'],
  ])("answers 400 to %s", async (body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain(message);
  });
});
