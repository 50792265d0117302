/**
 * Hostile clients against the DNS server over TCP (raw sockets) and ANY with dig: a flood
 * of queries whose answers are never read keeps the server's memory bounded and is cut by
 * the idle timer, a message sent a byte at a time does not keep a connection open, one
 * address holds at most TCP_PER_ADDRESS connections, and ANY gets one RRset (RFC 8482) —
 * while dig from another connection or address is answered throughout.
 */
import { connect, type Socket } from "node:net";
import * as packet from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDnsApp, type DnsApp } from "../../images/dns/src/app";
import { TCP_PER_ADDRESS } from "../../images/dns/src/server";
import { createLogger } from "../../images/runtime/log";
import { dig, dnsConfig, requireTool, writeConfig } from "../dns/fixture";
import { rssMiB } from "./support";

const IDLE_MS = 1000;
/** RSS growth of the process running the server, in MiB, allowed during the flood. */
const FLOOD_RSS_BOUND_MIB = 40;
let app: DnsApp;
let port: number;
let hasDig = false;
const sockets: Socket[] = [];

beforeAll(async () => {
  hasDig = await requireTool("dig");
  const configPath = writeConfig(dnsConfig({ rrl: { responsesPerSecond: 0 }, tcpIdleTimeoutMs: IDLE_MS }).config);
  app = await startDnsApp({ configPath, host: "127.0.0.1", port: 0, log: createLogger({ role: "dns", level: "silent" }), watchIntervalMs: 0 });
  port = app.server.port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await app?.close();
});

/** One length-prefixed TCP query. */
function tcpQuery(name: string, type: string, id = 1): Buffer {
  const message = packet.encode({ id, type: "query", flags: 0, questions: [{ name, type: type as "A", class: "IN" }] });
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}

function open(localAddress = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, localAddress }, () => resolve(s));
    sockets.push(s);
    s.on("error", reject);
  });
}

const tcpConnections = () => new Promise<number>((resolve, reject) => app.server.tcp.getConnections((e, n) => (e ? reject(e) : resolve(n))));

async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !(await check());) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once("close", () => r())));

describe("DNS over TCP against hostile clients", () => {
  it("a flood of queries whose answers are never read: memory stays bounded, others are served, the idle timer cuts it", async () => {
    if (!hasDig) return;
    const attacker = await open();
    attacker.pause(); // never reads a single answer
    const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => tcpQuery("big.fra1.park.test", "TXT", i)));
    const before = rssMiB();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB())), 20);
    let sent = 0;
    // Up to 2 MB of queries (each answer is ~2.5 KB: 140 MB of answers if all were queued),
    // written as fast as the server takes them; stops when it stops reading for 2 s.
    while (sent < 2 * 1024 * 1024 && !attacker.destroyed) {
      sent += batch.length;
      if (attacker.write(batch)) continue;
      const drained = await Promise.race([
        new Promise<boolean>((r) => attacker.once("drain", () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
      ]);
      if (!drained) break;
    }
    // Meanwhile another client over TCP and UDP is answered.
    const tcp = await dig(port, ["+tcp", "edge.fra1.park.test", "A"]);
    const udp = await dig(port, ["edge.fra1.park.test", "A"]);
    // The attacker reads nothing, so it would not even notice the close: ask the server.
    await until(async () => (await tcpConnections()) === 0, "the server closed the flooding connection");
    clearInterval(sampler);
    attacker.destroy();
    expect(tcp.status).toBe("NOERROR");
    expect(udp.status).toBe("NOERROR");
    console.info(`dns flood: ${(sent / 1024 / 1024).toFixed(1)} MiB of queries sent, RSS ${before.toFixed(0)} -> peak ${peak.toFixed(0)} MiB`);
    expect(peak - before).toBeLessThan(FLOOD_RSS_BOUND_MIB);
  }, 60_000);

  it("a message sent a byte at a time does not keep the connection open", async () => {
    const s = await open();
    const query = tcpQuery("edge.fra1.park.test", "A");
    let written = 0;
    let answered = false;
    s.on("data", () => (answered = true));
    // One byte every IDLE_MS / 4: each arrives well within the idle time, the message never completes in it.
    while (written < query.length && !s.destroyed) {
      s.write(query.subarray(written, written + 1));
      written++;
      await new Promise((r) => setTimeout(r, IDLE_MS / 4));
    }
    await closed(s);
    expect(answered).toBe(false);
    expect(written).toBeLessThan(query.length);
  }, 60_000);

  it(`holds at most ${TCP_PER_ADDRESS} connections per address; another address is still served`, async () => {
    if (!hasDig) return;
    // Each connection asks one question every IDLE_MS / 3, so the idle timer never closes it.
    const held = await Promise.all(Array.from({ length: TCP_PER_ADDRESS }, () => open()));
    const keepAsking = setInterval(() => held.forEach((s) => s.write(tcpQuery("edge.fra1.park.test", "A"))), IDLE_MS / 3);
    try {
      await new Promise((r) => setTimeout(r, IDLE_MS / 2));
      const extra = await open();
      let answered = false;
      extra.on("data", () => (answered = true));
      extra.write(tcpQuery("edge.fra1.park.test", "A"));
      await closed(extra);
      expect(answered).toBe(false);
      expect(held.filter((s) => s.destroyed)).toHaveLength(0);
      const other = await dig(port, ["+tcp", "-b", "127.0.0.2", "edge.fra1.park.test", "A"]);
      expect(other.status).toBe("NOERROR");
    } finally {
      clearInterval(keepAsking);
      for (const s of held) s.destroy();
    }
  }, 60_000);
});

describe("ANY", () => {
  it.each(["udp", "tcp"])("gets one RRset over %s (RFC 8482), not every record of the name", async (transport) => {
    if (!hasDig) return;
    const r = await dig(port, [...(transport === "tcp" ? ["+tcp"] : []), "+bufsize=4096", "fra1.park.test", "ANY"]);
    expect(r.status).toBe("NOERROR");
    expect(r.answer.length).toBeGreaterThan(0);
    const types = new Set(r.answer.map((line) => line.split(" ")[3]));
    expect([...types]).toHaveLength(1);
    // The apex has SOA, NS, MX, TXT and more; none of the others came along.
    const mx = await dig(port, ["fra1.park.test", "MX"]);
    expect(mx.answer.length).toBeGreaterThan(0);
  });
});
