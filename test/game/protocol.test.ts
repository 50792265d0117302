/** The game protocol over real WebSockets on 127.0.0.1: join, move, snapshots, cheats refused, reconnect, idle kick, rooms. */
import { afterEach, describe, expect, it } from "vitest";
import { sleep, startTestGame, TestClient, type Message } from "./helpers";
import type { GameServer } from "../../images/game/src/server";

let running: GameServer | undefined;
const clients: TestClient[] = [];
async function setup(overrides = {}) {
  const t = await startTestGame(overrides);
  running = t.game;
  const connect = async () => {
    const c = await TestClient.connect(t.url);
    clients.push(c);
    return c;
  };
  return { ...t, connect };
}
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await running?.close();
  running = undefined;
});

describe("game protocol", () => {
  it("joins a room and receives a full snapshot with itself in it", async () => {
    const { connect } = await setup();
    const c = await connect();
    const welcome = await c.join("ada");
    expect(welcome).toMatchObject({ t: "welcome", room: "r1", tickHz: 20, arena: 1000, resumed: false });
    expect(String(welcome.token)).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const full = await c.next((m) => m.t === "snap" && m.full === true);
    expect((full.joined as [number, string][]).some(([id, name]) => id === welcome.id && name === "ada")).toBe(true);
    expect((full.items as unknown[]).length).toBe(12);
  });

  it("moves a player at most maxSpeed per tick and shows it to others through deltas", async () => {
    const { connect } = await setup({ maxSpeed: 200 });
    const a = await connect();
    const b = await connect();
    const wa = await a.join("mover");
    await b.join("watcher");
    await b.next((m) => m.t === "snap");
    const start = b.position(wa.id as number) ?? a.position(wa.id as number);
    expect(start).toBeDefined();
    // The mover stands still until its input, so it is at `start` on the watcher's latest tick.
    const t0 = b.messages.filter((m) => m.t === "snap").at(-1)!.tick as number;
    const dir = start!.x < 500 ? 1 : -1;
    a.send({ t: "input", seq: 1, dx: dir, dy: 0 });
    const row = (m: Message) => (m.t === "snap" ? (m.players as number[][]).find((p) => p[0] === wa.id) : undefined);
    const seen = await b.next((m) => ((row(m)?.[1] ?? start!.x) - start!.x) * dir >= 60, 5000);
    const moved = (row(seen)![1]! - start!.x) * dir;
    // Counted in ticks, not time: 200 units/s at 20 Hz is at most 10 units a tick (+1 for rounding).
    expect(moved).toBeLessThanOrEqual(10 * ((seen.tick as number) - t0) + 1);
    expect(row(seen)![2]).toBe(start!.y);
    // Deltas carry only what changed: the watcher itself stands still and is not in them.
    const deltas = b.messages.filter((m) => m.t === "snap" && !m.full).slice(-3);
    for (const d of deltas) expect((d.players as number[][]).every((p) => p[0] === wa.id)).toBe(true);
  });

  it.each([1, 2, 3])("sends each client a snapshot every %i tick(s), the send groups on different ticks", async (every) => {
    const { connect } = await setup({ snapshotEvery: every });
    const a = await connect();
    const b = await connect();
    expect(await a.join("even")).toMatchObject({ tickHz: 20, snapHz: 20 / every });
    await b.join("odd");
    const ticks = async (c: TestClient) => {
      const first = (await c.next((m) => m.t === "snap" && m.full === true)).tick as number;
      await c.next((m) => m.t === "snap" && (m.tick as number) >= first + 5 * every);
      return c.messages.filter((m) => m.t === "snap").map((m) => m.tick as number);
    };
    const [ta, tb] = [await ticks(a), await ticks(b)];
    for (const t of [ta, tb]) for (let i = 1; i < t.length; i++) expect(t[i]! - t[i - 1]!).toBe(every);
    // Joined one after the other, they are in different groups (dealt round-robin) unless there is one.
    expect(ta[0]! % every === tb[0]! % every).toBe(every === 1);
  });

  it("refuses cheats: over-speed, teleport claims and replayed inputs", async () => {
    const { connect } = await setup();
    const c = await connect();
    const w = await c.join("cheater");
    await c.next((m) => m.t === "snap");
    const before = c.position(w.id as number)!;
    c.send({ t: "input", seq: 1, dx: 5, dy: 0 });
    expect(await c.next((m) => m.t === "reject" && m.seq === 1)).toMatchObject({ reason: "speed" });
    c.send({ t: "input", seq: 2, dx: 0, dy: 0, x: (before.x + 500) % 1000, y: before.y });
    expect(await c.next((m) => m.t === "reject" && m.seq === 2)).toMatchObject({ reason: "teleport", x: before.x, y: before.y });
    c.send({ t: "input", seq: 3, dx: 0, dy: 0 });
    c.send({ t: "input", seq: 3, dx: 1, dy: 0 });
    expect(await c.next((m) => m.t === "reject" && m.seq === 3)).toMatchObject({ reason: "sequence" });
    await sleep(200);
    expect(c.position(w.id as number)).toMatchObject({ x: before.x, y: before.y });
    expect(c.closed).toBeUndefined();
  });

  it("reconnects with the session token to the same seat", async () => {
    const { connect } = await setup({ reconnectGraceMs: 5000 });
    const a = await connect();
    const w = await a.join("phoenix");
    a.close();
    await sleep(100);
    const b = await connect();
    const again = await b.join("phoenix", { token: w.token });
    expect(again).toMatchObject({ t: "welcome", id: w.id, room: w.room, resumed: true });
    const full = await b.next((m) => m.t === "snap" && m.full === true);
    expect((full.players as number[][]).some((p) => p[0] === w.id)).toBe(true);
    const c = await connect();
    c.send({ t: "join", name: "thief", token: "A".repeat(24) });
    expect(await c.next((m) => m.t === "error")).toMatchObject({ code: "unknown-token" });
  });

  it("a second connection with the token replaces the first", async () => {
    const { connect } = await setup();
    const a = await connect();
    const w = await a.join("twin");
    const b = await connect();
    await b.join("twin", { token: w.token });
    expect(await a.waitClosed()).toMatchObject({ code: 4001 });
  });

  it("frees the seat at once on leave", async () => {
    const { connect, game } = await setup();
    const c = await connect();
    const w = await c.join("brief");
    c.send({ t: "leave" });
    expect(await c.waitClosed()).toMatchObject({ code: 1000 });
    expect(game.rooms.size).toBe(0);
    const again = await connect();
    again.send({ t: "join", name: "brief", token: w.token });
    expect(await again.next((m) => m.t === "error")).toMatchObject({ code: "unknown-token" });
  });

  it("kicks idle players", async () => {
    const { connect } = await setup({ idleTimeoutMs: 1000 });
    const c = await connect();
    await c.join("sleepy");
    expect(await c.waitClosed(3000)).toMatchObject({ code: 4000, reason: "idle" });
    expect(c.messages.some((m) => m.t === "kick")).toBe(true);
  });

  it("puts players into a new room when the room is full", async () => {
    const { connect, game } = await setup({ roomCap: 2 });
    const rooms = [];
    for (let i = 0; i < 3; i++) rooms.push((await (await connect()).join(`p${i}`)).room);
    expect(rooms).toEqual(["r1", "r1", "r2"]);
    expect(game.rooms.size).toBe(2);
  });

  it("refuses joins beyond maxRooms × roomCap with 1013", async () => {
    const { connect } = await setup({ roomCap: 1, maxRooms: 1 });
    await (await connect()).join("first");
    const c = await connect();
    c.send({ t: "join", name: "second" });
    expect(await c.waitClosed()).toMatchObject({ code: 1013, reason: "server full" });
  });

  it("answers pings and exports tick percentiles, the tick's CPU time and player counts", async () => {
    const { connect, registry, game } = await setup();
    const c = await connect();
    await c.join("metric");
    c.send({ t: "ping", id: 42 });
    expect(await c.next((m) => m.t === "pong")).toMatchObject({ id: 42 });
    await sleep(200);
    const text = await registry.metrics();
    expect(text).toMatch(/game_tick_duration_seconds\{quantile="0.99"\} \d/);
    expect(text).toMatch(/game_players\{state="connected"\} 1/);
    expect(text).toMatch(/game_rooms 1/);
    // The tick's own CPU time is taken beside its wall-clock time (benchmarks print both).
    const stats = game.tickStats();
    expect(stats.count).toBeGreaterThan(0);
    expect(Number.isFinite(stats.cpuP50) && stats.cpuP50 >= 0).toBe(true);
    expect(stats.cpuP99).toBeGreaterThanOrEqual(stats.cpuP50);
  });

  it("serves the browser client at /", async () => {
    const { game } = await setup();
    const res = await fetch(`http://127.0.0.1:${game.port}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<canvas id="arena"');
    expect((await fetch(`http://127.0.0.1:${game.port}/nope`)).status).toBe(404);
  });
});
