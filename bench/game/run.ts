/**
 * Game server load: N simulated players over loopback WebSockets (default 500, 1000, 2000), on
 * 127.0.0.2 (BENCH_HOST).
 * The server runs in its own process (so the clients' CPU does not count as tick time);
 * every player joins, then changes direction 5 times a second. After a warm-up, a 10 s
 * window measures the server's tick duration p50/p99 (and of its simulation part, before the
 * sends), the CPU time the tick itself took (p50/p99: the work without waiting for a core, which
 * the bots on the same cores cause), the CPU shares of server and bots, and the payload bytes
 * each player received per second. Target: p99 under half the
 * tick budget (25 ms at 20 Hz), up to 2,000 players.
 *
 * Usage: tsx bench/game/run.ts [players ...]   (env BENCH_SECONDS, default 10; BENCH_CPU_PROF=<dir>
 * writes the server's CPU profile; BENCH_SNAPSHOT_EVERY=1,2 runs each size with each
 * `snapshotEvery` setting, side by side in one run — default: the setting's default)
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import WebSocket from "ws";
import { recordResult } from "../summary";

const TICK_HZ = 20;
const BUDGET_MS = 1000 / TICK_HZ;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/**
 * Server and bots on 127.0.0.2, not 127.0.0.1: a thousand bots take a thousand ephemeral ports,
 * and on 127.0.0.1 one of them can sit on a port Docker is about to publish (the e2e datacenter
 * publishes on 127.0.0.1:41000+, inside the ephemeral range), failing that run.
 */
const HOST = process.env.BENCH_HOST ?? "127.0.0.2";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ask<T>(child: ChildProcess, message: object, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        child.off("message", on);
        resolve(m as T);
      }
    };
    child.on("message", on);
    child.send(message);
  });
}

interface Player {
  ws: WebSocket;
  bytes: number;
  snaps: number;
  seq: number;
}

async function connect(url: string, i: number): Promise<Player> {
  const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: HOST });
  const p: Player = { ws, bytes: 0, snaps: 0, seq: 0 };
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const welcomed = new Promise<void>((resolve) => {
    ws.on("message", (data: Buffer) => {
      p.bytes += data.length;
      if (data.includes('"t":"snap"')) p.snaps++;
      if (data.includes('"welcome"')) resolve();
    });
  });
  ws.send(JSON.stringify({ t: "join", name: `bot${i}` }));
  await welcomed;
  return p;
}

async function run(
  players: number,
  snapshotEvery: number | undefined,
): Promise<{
  players: number;
  snapHz: number;
  rooms: number;
  p50: number;
  p99: number;
  max: number;
  simP50: number;
  simP99: number;
  cpuP50: number;
  cpuP99: number;
  cpuMsPerTick: number;
  botCpuShare: number;
  cpuShare: number;
  ticksRun: number;
  kbPerPlayer: number;
}> {
  const child = fork(join(__dirname, "server.ts"), [], {
    // BENCH_CPU_PROF=<dir>: the server writes a V8 CPU profile there (open in Chrome DevTools).
    execArgv: ["--import", "tsx", ...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
    env: {
      ...process.env,
      BENCH_SETTINGS: JSON.stringify({ tickHz: TICK_HZ, roomCap: 32, maxRooms: 1000, maxInputsPerSecond: 60, idleTimeoutMs: 600_000, snapshotEvery }),
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once("message", (m) => resolve(m as { port: number })));
  const url = `ws://${HOST}:${port}/ws`;
  const bots: Player[] = [];
  for (let i = 0; i < players; i += 50) bots.push(...(await Promise.all(Array.from({ length: Math.min(50, players - i) }, (_, k) => connect(url, i + k)))));
  // Every bot steers 5 times a second, spread over the 200 ms so inputs arrive evenly.
  const steer = setInterval(() => {
    for (const [i, b] of bots.entries()) {
      if ((b.seq + i) % 4 !== 0) {
        b.seq++;
        continue;
      }
      const a = Math.random() * Math.PI * 2;
      b.ws.send(JSON.stringify({ t: "input", seq: ++b.seq, dx: Math.cos(a), dy: Math.sin(a) }));
    }
  }, 50);
  await sleep(3000);
  await ask(child, { mark: true }, "marked");
  for (const b of bots) b.bytes = b.snaps = 0;
  // The bots' own CPU over the window: they share the two cores with the server.
  const botCpuAt = process.cpuUsage();
  await sleep(SECONDS * 1000);
  const botCpu = process.cpuUsage(botCpuAt);
  const received = bots.reduce((n, b) => n + b.bytes, 0);
  const snaps = bots.reduce((n, b) => n + b.snaps, 0);
  const { stats, rooms, cpuMsPerTick, cpuShare, ticksRun } = await ask<{
    stats: { p50: number; p99: number; max: number; simP50: number; simP99: number; cpuP50: number; cpuP99: number };
    rooms: number;
    cpuMsPerTick: number;
    cpuShare: number;
    ticksRun: number;
  }>(child, { stats: SECONDS * TICK_HZ }, "stats");
  clearInterval(steer);
  for (const b of bots) b.ws.terminate();
  child.send({ stop: true });
  await new Promise((r) => child.once("exit", r));
  const botCpuShare = (botCpu.user + botCpu.system) / 1000 / (SECONDS * 1000);
  return {
    players,
    snapHz: snaps / players / SECONDS,
    rooms,
    ...stats,
    cpuMsPerTick,
    cpuShare,
    botCpuShare,
    ticksRun,
    kbPerPlayer: received / players / SECONDS / 1024,
  };
}

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  console.log(`game server: ${TICK_HZ} Hz tick (budget ${BUDGET_MS} ms), rooms of 32, ${SECONDS} s window, bots steer 5×/s`);
  const [load1] = (await import("node:os")).loadavg();
  console.log(
    `load average at start: ${load1!.toFixed(1)} on ${(await import("node:os")).cpus().length} cores (wall-clock tick times include waiting for a core)`,
  );
  console.log(
    "players  snaps/s  rooms  tick p50 ms  tick p99 ms  tick max ms  p99/budget  sim p50 ms  sim p99 ms  tick CPU p50 ms  tick CPU p99 ms  server CPU ms/tick  server CPU share  bots CPU share  ticks run  outbound KiB/s per player",
  );
  const everies = (process.env.BENCH_SNAPSHOT_EVERY ?? "").split(",").filter(Boolean).map(Number);
  for (const n of sizes.length > 0 ? sizes : [500, 1000, 2000])
    for (const every of everies.length > 0 ? everies : [undefined]) {
      const r = await run(n, every);
      console.log(
        `${String(r.players).padStart(7)}  ${r.snapHz.toFixed(1).padStart(7)}  ${String(r.rooms).padStart(5)}  ${r.p50.toFixed(2).padStart(11)}  ${r.p99.toFixed(2).padStart(11)}  ${r.max.toFixed(2).padStart(11)}  ${(r.p99 / BUDGET_MS).toFixed(3).padStart(10)}  ${r.simP50.toFixed(2).padStart(10)}  ${r.simP99.toFixed(2).padStart(10)}  ${r.cpuP50.toFixed(2).padStart(15)}  ${r.cpuP99.toFixed(2).padStart(15)}  ${r.cpuMsPerTick.toFixed(2).padStart(18)}  ${(r.cpuShare * 100).toFixed(0).padStart(15)}%  ${(r.botCpuShare * 100).toFixed(0).padStart(13)}%  ${(r.ticksRun * 100).toFixed(0).padStart(8)}%  ${r.kbPerPlayer.toFixed(1).padStart(25)}`,
      );
      if (n === 500) console.log(`         target at 500 players: p99 < ${BUDGET_MS / 2} ms → ${r.p99 < BUDGET_MS / 2 ? "met" : "MISSED"}`);
      recordResult({
        bench: "game",
        figure: `${n} players, ${TICK_HZ} Hz tick p99${every ? `, snapshotEvery ${every}` : ""}`,
        value: r.p99,
        unit: "ms",
        target: { op: "<=", value: BUDGET_MS / 2 },
      });
    }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
