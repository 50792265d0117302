/**
 * Hostile clients against the game server (ws clients): connections that never join are
 * closed at the join deadline and one address holds a bounded number of WebSockets, while
 * a real player from another connection or address joins and plays throughout. The
 * server's memory stays bounded while 200 idle connections are held open.
 */
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GameServer } from "../../images/game/src/server";
import { startTestGame, TestClient } from "../game/helpers";
import { rssMiB } from "./support";

const JOIN_DEADLINE_MS = 500;
const PER_CLIENT = 4;
let game: GameServer;
let url: string;
const opened: WebSocket[] = [];

beforeAll(async () => {
  ({ game, url } = await startTestGame({}, { joinDeadlineMs: JOIN_DEADLINE_MS, perClient: PER_CLIENT, perPeer: 300 }));
});
afterAll(async () => {
  for (const ws of opened) ws.terminate();
  await game?.close();
});

/** A ws client that never joins; resolves once open (status 101) or with the refusing status. */
function idle(options: WebSocket.ClientOptions = {}): Promise<{ ws?: WebSocket; status: number; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    opened.push(ws);
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    ws.once("open", () => resolve({ ws, status: 101, closed }));
    ws.once("unexpected-response", (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, closed });
    });
    ws.once("error", reject);
  });
}

async function play(localAddress?: string): Promise<void> {
  const player = await TestClient.connect(url, localAddress ? { localAddress } : {});
  const welcome = await player.join("real player");
  player.send({ t: "input", seq: 1, dx: 1, dy: 0 });
  await player.next((m) => m.t === "snap", 5000);
  expect(welcome.t).toBe("welcome");
  player.close();
}

describe("game server against hostile clients", () => {
  it("closes connections that never join (200 of them, each from its own forwarded address), while a player plays", async () => {
    const before = rssMiB();
    const idlers = await Promise.all(Array.from({ length: 200 }, (_, i) => idle({ headers: { "x-forwarded-for": `198.51.100.${i}` } })));
    expect(idlers.every((c) => c.status === 101)).toBe(true);
    const held = rssMiB() - before;
    await play();
    const codes = await Promise.race([
      Promise.all(idlers.map((c) => c.closed)),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("idle connections still open 15 s after the join deadline")), 15_000)),
    ]);
    expect(new Set(codes)).toEqual(new Set([1008]));
    console.info(`game: 200 idle connections held ${held.toFixed(1)} MiB of RSS before the deadline closed them`);
    expect(held).toBeLessThan(50);
  }, 60_000);

  it(`holds at most ${PER_CLIENT} WebSockets per client address; another address still plays`, async () => {
    const first = await Promise.all(Array.from({ length: PER_CLIENT }, () => idle()));
    expect(first.map((c) => c.status)).toEqual(Array(PER_CLIENT).fill(101));
    expect((await idle()).status).toBe(429);
    await play("127.0.0.2");
    for (const c of first) c.ws!.terminate();
  });
});
