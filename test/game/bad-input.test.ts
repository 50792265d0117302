/** Bad input closes the offending client only: garbage, binary, oversized frames, floods; the others keep playing. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGame, TestClient } from "./helpers";
import type { GameServer } from "../../images/game/src/server";

let game: GameServer;
let url: string;
let bystander: TestClient;

beforeAll(async () => {
  ({ game, url } = await startTestGame({ maxInputsPerSecond: 30, maxMessageBytes: 512 }));
  bystander = await TestClient.connect(url);
  await bystander.join("bystander");
});
afterAll(async () => {
  bystander.close();
  await game.close();
});

/** The bystander still gets fresh snapshots after the bad client is gone. */
async function bystanderStillPlays(): Promise<void> {
  const from = bystander.messages.length;
  await bystander.next((m) => m.t === "snap", 1000, from);
  expect(bystander.closed).toBeUndefined();
}

describe("bad input closes that client only", () => {
  it.each([
    ["non-JSON text", (c: TestClient) => c.ws.send("{not json"), 1007],
    ["a binary frame", (c: TestClient) => c.ws.send(Buffer.from([1, 2, 3])), 1003],
    ["an oversized message", (c: TestClient) => c.ws.send(JSON.stringify({ t: "join", name: "x".repeat(2000) })), 1009],
    [
      "a flood of inputs",
      (c: TestClient) => {
        for (let i = 0; i < 500; i++) c.send({ t: "input", seq: i, dx: 0, dy: 0 });
      },
      1008,
    ],
    [
      "repeated malformed messages",
      (c: TestClient) => {
        for (let i = 0; i < 3; i++) c.send({ t: "teleport", x: 1 });
      },
      1008,
    ],
  ])("%s", async (_what, misbehave, code) => {
    const c = await TestClient.connect(url);
    await c.join("rogue");
    misbehave(c);
    expect((await c.waitClosed()).code).toBe(code);
    await bystanderStillPlays();
  });

  it("refuses inputs above the rate limit before closing", async () => {
    const c = await TestClient.connect(url);
    await c.join("eager");
    for (let i = 1; i <= 40; i++) c.send({ t: "input", seq: i, dx: 0, dy: 0 });
    await c.next((m) => m.t === "reject" && m.reason === "rate");
    expect(c.closed).toBeUndefined();
    c.close();
  });

  it("answers a malformed message with an error naming the field", async () => {
    const c = await TestClient.connect(url);
    c.send({ t: "join", name: "" });
    expect(await c.next((m) => m.t === "error")).toMatchObject({ code: "malformed", message: expect.stringContaining("name") });
    c.send({ t: "input", seq: 1, dx: 1, dy: 0 });
    expect(await c.next((m) => m.t === "error" && m.code === "not-joined")).toBeDefined();
    c.close();
  });

  it("keeps ticking through 2,000 random frames from one client", async () => {
    const c = await TestClient.connect(url);
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const pieces = ['{"t":"input"', '"seq":', "-1", "1e308", "NaN", '"dx":', "[]", "{}", '"t":"join"', '"name":"a"', ",", "}", "null", '"\\u0000"'];
    for (let i = 0; i < 2000 && c.ws.readyState === c.ws.OPEN; i++) {
      const parts = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => pieces[Math.floor(rand() * pieces.length)]);
      c.ws.send(parts.join(""));
    }
    await c.waitClosed();
    await bystanderStillPlays();
  });
});
