/**
 * The game replica on real Docker, reached the way players reach it: only through the edge
 * proxy. Our DNS points the game's name at edge; the client page and the WebSocket game go
 * through edge's published HTTP and HTTPS ports (Host / SNI of the game's name, the
 * datacenter CA), and arena publishes nothing itself.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, expect, it } from "vitest";
import type WebSocket from "ws";
import { dig } from "../dns/fixture";
import { TestClient, sleep } from "../game/helpers";
import { curl } from "../web/curl";
import { describeE2e, e2eDatacenter } from "./facts";

const run = promisify(execFile);
const dc = e2eDatacenter();
const game = () => `arena.${dc.domain}`;
const edgeHttp = () => dc.replica("edge-0").published["80/tcp"]!;
const edgeHttps = () => dc.replica("edge-0").published["443/tcp"]!;

/** The NOC test stops and restarts arena-0; wait until it is back, and the proxy has it back in its pool. */
async function arenaReady(): Promise<void> {
  const name = dc.replica("arena-0").name;
  for (let i = 0; i < 90; i++) {
    const { stdout } = await run("docker", ["inspect", "-f", "{{.State.Health.Status}}", name]);
    if (stdout.trim() === "healthy") break;
    await sleep(1000);
  }
  let last = "";
  for (let i = 0; i < 30; i++) {
    const r = await curl(["-H", `Host: ${game()}`, `http://127.0.0.1:${edgeHttp()}/healthz`]);
    if (r.status === 200) return;
    last = `${r.status} ${r.stderr}`;
    await sleep(1000);
  }
  throw new Error(`the proxy did not serve ${game()}/healthz within 30 s (last: ${last})`);
}

/** Join, see our player move, and see a cheat refused. */
async function play(c: TestClient): Promise<void> {
  const w = await c.join("e2e");
  await c.next((m) => m.t === "snap" && m.full === true);
  const id = w.id as number;
  const start = c.position(id)!;
  const dir = start.x < 500 ? 1 : -1;
  c.send({ t: "input", seq: 1, dx: dir, dy: 0 });
  await sleep(500);
  expect((c.position(id)!.x - start.x) * dir).toBeGreaterThan(40);
  c.send({ t: "input", seq: 2, dx: 3, dy: 0 });
  expect(await c.next((m) => m.t === "reject" && m.seq === 2)).toMatchObject({ reason: "speed" });
  c.send({ t: "leave" });
  expect((await c.waitClosed()).code).toBe(1000);
}

describeE2e("game replica on Docker, behind the proxy", () => {
  let caFile = "";
  let ca = "";
  beforeAll(async () => {
    ({ stdout: ca } = await run("docker", ["exec", dc.replica("edge-0").name, "cat", "/etc/serverpark/tls/ca.crt"]));
    caFile = join(mkdtempSync(join(tmpdir(), "sp-e2e-ca-")), "ca.crt");
    writeFileSync(caFile, ca);
  });

  it("is healthy, on the private network only, and publishes no port of its own", () => {
    const arena = dc.replica("arena-0");
    expect(arena.health, arena.name).toBe("healthy");
    expect(Object.keys(arena.addresses).sort()).toEqual(["mgmt", "private"]);
    expect(arena.published).toEqual({});
  });

  it("its name resolves through our DNS to the proxy", async () => {
    const answer = await dig(dc.replica("ns-0").published["53/udp"]!, [game(), "A"]);
    expect(answer.status).toBe("NOERROR");
    expect(
      answer.answer.some((l) => l.includes(" CNAME ") && l.endsWith(`edge.${dc.domain}.`)),
      answer.raw,
    ).toBe(true);
    const edges = ["edge-0", "edge-1"].map((id) => dc.replica(id).addresses.public);
    const addresses = answer.answer.filter((l) => / IN A /.test(l)).map((l) => l.split(" ").pop());
    expect(addresses.length).toBeGreaterThan(0);
    for (const a of addresses) expect(edges).toContain(a);
  });

  it("serves the client page through the proxy over HTTP and HTTPS (datacenter CA)", async () => {
    await arenaReady();
    const plain = await curl(["-H", `Host: ${game()}`, `http://127.0.0.1:${edgeHttp()}/`]);
    expect(plain.status, plain.stderr).toBe(200);
    expect(plain.body.toString()).toContain('<canvas id="arena"');
    const tls = await curl(["--resolve", `${game()}:${edgeHttps()}:127.0.0.1`, "--cacert", caFile, `https://${game()}:${edgeHttps()}/`]);
    expect(tls.exitCode, tls.stderr).toBe(0);
    expect(tls.status).toBe(200);
    expect(tls.body.toString()).toContain('<canvas id="arena"');
  });

  it("plays over the proxy's WebSocket pass-through (ws://, Host of the game): join, move, refuse a cheat", async () => {
    await arenaReady();
    const c = await TestClient.connect(`ws://127.0.0.1:${edgeHttp()}/ws`, { headers: { host: game() } });
    try {
      await play(c);
    } finally {
      c.close();
    }
  });

  it("plays over wss:// through the proxy, with SNI of the game's name and the datacenter CA", async () => {
    await arenaReady();
    // ws hands `servername` on to tls.connect (its types omit it).
    const options = { ca, servername: game(), headers: { host: game() } } as WebSocket.ClientOptions;
    const c = await TestClient.connect(`wss://127.0.0.1:${edgeHttps()}/ws`, options);
    try {
      await play(c);
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
