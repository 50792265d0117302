/** The simulation as plain function calls: movement limits, pickups, deltas, and a bounded fuzz of inputs. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gameSettingsSchema } from "../../contracts/settings/game";
import { clientMessage } from "../../images/game/src/protocol";
import { PICKUP_RADIUS, Room } from "../../images/game/src/room";

const settings = gameSettingsSchema.parse({ itemsPerRoom: 3 });

describe("Room", () => {
  it("moves at most maxSpeed × dt per tick and stays inside the arena", () => {
    const room = new Room("t", settings, 1);
    const p = room.addPlayer(1, "a", "tok", 0);
    p.x = 995;
    const y = p.y;
    expect(room.applyInput(p, { seq: 1, dx: 1, dy: 0 }, 0)).toEqual({ ok: true });
    room.step(0.05);
    expect(p.x).toBe(1000);
    expect(room.applyInput(p, { seq: 2, dx: -1, dy: 0 }, 0)).toEqual({ ok: true });
    room.step(0.05);
    expect(p.x).toBeCloseTo(990);
    expect(p.y).toBe(y);
  });

  it("scores a pickup and respawns the item elsewhere", () => {
    const room = new Room("t", settings, 3);
    const p = room.addPlayer(1, "a", "tok", 0);
    const item = room.items[0]!;
    p.x = item.x - PICKUP_RADIUS - 5;
    p.y = item.y;
    room.applyInput(p, { seq: 1, dx: 1, dy: 0 }, 0);
    room.step(0.05);
    expect(p.score).toBe(1);
    expect(Math.hypot(item.x - p.x, item.y - p.y)).toBeGreaterThan(0);
  });

  it("keeps one baseline per send group: each group's delta is what changed since that group's last one", () => {
    const room = new Room("t", gameSettingsSchema.parse({ itemsPerRoom: 3, snapshotEvery: 2 }), 1);
    const a = room.addPlayer(1, "a", "t1", 0);
    a.x = 500;
    a.y = 500;
    expect(room.delta(0)).toMatchObject({ players: [[1, 500, 500, 0]], joined: [[1, "a"]] });
    expect(room.delta(1)).toMatchObject({ players: [[1, 500, 500, 0]], joined: [[1, "a"]] });
    room.applyInput(a, { seq: 1, dx: 1, dy: 0 }, 0);
    room.step(0.05);
    // Group 0 hears of the move; group 1 is not asked this tick.
    expect(room.delta(0).players).toEqual([[1, 510, 500, 0]]);
    room.applyInput(a, { seq: 2, dx: -1, dy: 0 }, 0);
    room.step(0.05);
    // Back where group 1 last saw it: nothing for group 1, the way back for group 0.
    expect(room.delta(1).players).toEqual([]);
    expect(room.delta(0).players).toEqual([[1, 500, 500, 0]]);
    room.removePlayer(1);
    expect(room.delta(0).gone).toEqual([1]);
    expect(room.delta(1).gone).toEqual([1]);
    expect(() => room.delta(2)).toThrow(RangeError);
  });

  it("sends only what changed in a delta, and names who joined and left", () => {
    const room = new Room("t", settings, 1);
    const a = room.addPlayer(1, "a", "t1", 0);
    room.addPlayer(2, "b", "t2", 0);
    const first = room.delta();
    expect(first.players).toHaveLength(2);
    expect(first.joined).toEqual([
      [1, "a"],
      [2, "b"],
    ]);
    room.applyInput(a, { seq: 1, dx: 0, dy: 1 }, 0);
    room.step(0.05);
    const second = room.delta();
    expect(second.players.map((p) => p[0])).toEqual([1]);
    expect(second.items).toEqual([]);
    expect(second.joined).toBeUndefined();
    room.removePlayer(2);
    expect(room.delta().gone).toEqual([2]);
    expect(room.fullSnapshot().players.map((p) => p[0])).toEqual([1]);
  });

  it("never lets any input sequence move a player faster than allowed or out of the arena (10,000 inputs)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ dx: fc.double(), dy: fc.double(), x: fc.option(fc.double(), { nil: undefined }), y: fc.option(fc.double(), { nil: undefined }) }),
          { maxLength: 100 },
        ),
        (inputs) => {
          const room = new Room("f", settings, 9);
          const p = room.addPlayer(1, "f", "tok", 0);
          inputs.forEach((input, seq) => {
            const before = { x: p.x, y: p.y };
            const parsed = clientMessage.safeParse({ t: "input", seq, ...input });
            if (parsed.success && parsed.data.t === "input") room.applyInput(p, parsed.data, 0);
            room.step(0.05);
            expect(Math.hypot(p.x - before.x, p.y - before.y)).toBeLessThanOrEqual(200 * 0.05 * 1.0001 + 1e-9);
            expect(p.x).toBeGreaterThanOrEqual(0);
            expect(p.x).toBeLessThanOrEqual(1000);
            expect(Number.isFinite(p.y)).toBe(true);
          });
        },
      ),
      { numRuns: 100, seed: 42 },
    );
  });
});

describe("game settings", () => {
  it("names the bad setting", () => {
    const r = gameSettingsSchema.safeParse({ tickHz: 1000, bogus: 1 });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join(".") || i.message);
    expect(paths.join(" ")).toMatch(/tickHz/);
    expect(JSON.stringify(r.error!.issues)).toMatch(/bogus/);
  });
});
