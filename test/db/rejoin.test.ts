/**
 * The rules by which a data node rebuilt with empty volumes removes its old registration from
 * the monitor (images/db/src/ha/rejoin.ts): only a registration that is provably dead, and never
 * the one the group's writes depend on. The end-to-end case (real pg_auto_failover) is in ha.test.ts.
 */
import { describe, expect, it } from "vitest";
import { judgeRegistration, STALE_REGISTRATION_SECONDS, type Registration } from "../../images/db/src/ha/rejoin";

const self = { name: "db-0", host: "10.0.0.3", port: 5432 };
const dead: Registration = { nodeId: 1, name: "db-0", host: "10.0.0.3", port: 5432, goalState: "demoted", health: 0, silentSeconds: 120 };
const survivor: Registration = { nodeId: 2, name: "db-1", host: "10.0.0.6", port: 5432, goalState: "wait_primary", health: 1, silentSeconds: 0.4 };

describe("a rebuilt data node and its old registration on the monitor", () => {
  it("a first start (no registration of its name or address) creates at once", () => {
    expect(judgeRegistration([survivor], self)).toEqual({ action: "none" });
    expect(judgeRegistration([], self)).toEqual({ action: "none" });
  });

  it("removes a registration that is silent, unreachable and replaced by a writable node", () => {
    const verdict = judgeRegistration([dead, survivor], self);
    expect(verdict).toMatchObject({ action: "remove", registration: dead });
    expect(verdict.action === "remove" && verdict.reason).toMatch(/silent for 120 s.*"db-1" is wait_primary/);
    // The same address under another name (a renamed node) is this node's registration too.
    expect(judgeRegistration([{ ...dead, name: "old-name" }, survivor], self)).toMatchObject({ action: "remove" });
    // The group's only node: nothing depends on it any more.
    expect(judgeRegistration([{ ...dead, goalState: "single" }], self)).toMatchObject({ action: "remove" });
  });

  it("waits while the registration may belong to a live node", () => {
    // Reported recently: another container may run under this name.
    expect(judgeRegistration([{ ...dead, silentSeconds: STALE_REGISTRATION_SECONDS - 1 }, survivor], self)).toMatchObject({
      action: "wait",
      reason: expect.stringMatching(/reported to the monitor 19 s ago/),
    });
    // The monitor's health check still reaches it.
    expect(judgeRegistration([{ ...dead, health: 1 }, survivor], self)).toMatchObject({
      action: "wait",
      reason: expect.stringMatching(/health check still reaches/),
    });
  });

  it("never removes the registration the group's writes depend on", () => {
    // Still the primary on the monitor (no failover yet): removing it would be a failover by hand.
    expect(
      judgeRegistration(
        [
          { ...dead, goalState: "primary" },
          { ...survivor, goalState: "secondary" },
        ],
        self,
      ),
    ).toMatchObject({
      action: "wait",
      reason: expect.stringMatching(/still the group's primary/),
    });
    // No other node takes writes (the standby was not caught up): nothing to copy from, keep waiting.
    expect(judgeRegistration([dead, { ...survivor, goalState: "catchingup" }], self)).toMatchObject({
      action: "wait",
      reason: expect.stringMatching(/no other node takes writes yet \(db-1: catchingup\)/),
    });
    // Two registrations match (its name on one, its address on another): an operator must look.
    expect(judgeRegistration([dead, { ...survivor, host: self.host }], self)).toMatchObject({
      action: "wait",
      reason: expect.stringMatching(/2 registrations/),
    });
  });
});
