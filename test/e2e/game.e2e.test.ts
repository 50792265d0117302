/** The game replica on real Docker: healthy, its client page and a WebSocket game on the published port. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { TestClient, sleep } from "../game/helpers";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();

/** The NOC test stops and restarts arena-0; wait until it is back before using it. */
async function arenaHealthy(name: string): Promise<void> {
  for (let i = 0; i < 90; i++) {
    const { stdout } = await run("docker", ["inspect", "-f", "{{.State.Health.Status}}", name]);
    if (stdout.trim() === "healthy") return;
    await sleep(1000);
  }
  throw new Error(`${name} did not become healthy within 90 s`);
}

describeE2e("game replica on Docker", () => {
  it("is healthy and serves the client page on its published port", async () => {
    const arena = dc.replica("arena-0");
    expect(arena.health, arena.name).toBe("healthy");
    await arenaHealthy(arena.name);
    const res = await fetch(`http://127.0.0.1:${arena.published["7350/tcp"]}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<canvas id="arena"');
  });

  it("plays over WebSocket: join, move, refuse a cheat", async () => {
    const arena = dc.replica("arena-0");
    await arenaHealthy(arena.name);
    const c = await TestClient.connect(`ws://127.0.0.1:${arena.published["7350/tcp"]}/ws`);
    try {
      const w = await c.join("e2e");
      await c.next((m) => m.t === "snap" && m.full === true);
      const start = c.position(w.id as number)!;
      const dir = start.x < 500 ? 1 : -1;
      c.send({ t: "input", seq: 1, dx: dir, dy: 0 });
      await sleep(500);
      expect((c.position(w.id as number)!.x - start.x) * dir).toBeGreaterThan(40);
      c.send({ t: "input", seq: 2, dx: 3, dy: 0 });
      expect(await c.next((m) => m.t === "reject" && m.seq === 2)).toMatchObject({ reason: "speed" });
      c.send({ t: "leave" });
    } finally {
      c.close();
    }
  });

  it("runs as uid 1000 with every capability dropped", async () => {
    const arena = dc.replica("arena-0");
    const { stdout } = await run("docker", ["inspect", "-f", "{{.Config.User}} {{json .HostConfig.CapDrop}}", arena.name]);
    expect(stdout.trim()).toBe('1000:1000 ["ALL"]');
  });
});
