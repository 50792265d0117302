/** Test helpers for the game server: an in-process server on port 0 and a WebSocket client that records what it receives. */
import { Registry } from "prom-client";
import WebSocket from "ws";
import { createLogger } from "../../images/runtime/log";
import { gameSettingsSchema, type GameSettings } from "../../contracts/settings/game";
import { gameMetrics } from "../../images/game/src/metrics";
import { startGameServer, type ConnectionLimits, type GameServer } from "../../images/game/src/server";

export async function startTestGame(
  overrides: Partial<GameSettings> = {},
  limits: Partial<ConnectionLimits> = {},
): Promise<{ game: GameServer; registry: Registry; url: string }> {
  const settings = gameSettingsSchema.parse(overrides);
  const registry = new Registry();
  const game = await startGameServer({
    settings,
    limits,
    log: createLogger({ role: "game", level: "silent" }),
    metrics: gameMetrics(registry),
    port: 0,
    host: "127.0.0.1",
  });
  return { game, registry, url: `ws://127.0.0.1:${game.port}/ws` };
}

export type Message = { t: string; [key: string]: unknown };

export class TestClient {
  readonly messages: Message[] = [];
  closed: { code: number; reason: string } | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => this.messages.push(JSON.parse(data.toString()) as Message));
    ws.on("close", (code, reason) => (this.closed = { code, reason: reason.toString() }));
    ws.on("error", () => undefined);
  }

  /** `options` for going through a proxy: a Host header, a CA and an SNI name for wss://. */
  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new TestClient(ws);
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Resolves with the first message (from `from` on) matching `test`; fails after `ms`. */
  async next(test: (m: Message) => boolean, ms = 3000, from = 0): Promise<Message> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.slice(from).find(test);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(
          `no matching message within ${ms} ms; got ${this.messages
            .slice(-3)
            .map((m) => JSON.stringify(m).slice(0, 200))
            .join(" | ")}`,
        );
      await sleep(10);
    }
  }

  async waitClosed(ms = 3000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`connection still open after ${ms} ms`);
      await sleep(10);
    }
    return this.closed;
  }

  /** Joins and returns the welcome message. */
  async join(name: string, extra: Record<string, unknown> = {}): Promise<Message> {
    this.send({ t: "join", name, ...extra });
    return this.next((m) => m.t === "welcome");
  }

  /** The latest known position of player `id` from the snapshots received so far. */
  position(id: number): { x: number; y: number; score: number } | undefined {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const m = this.messages[i]!;
      if (m.t !== "snap") continue;
      const row = (m.players as number[][]).find((p) => p[0] === id);
      if (row) return { x: row[1]!, y: row[2]!, score: row[3]! };
    }
    return undefined;
  }

  close(): void {
    this.ws.terminate();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
