/**
 * Bad input: 10,000+ malformed and truncated DNS messages (mutated real queries, random
 * bytes, lying counts, compression-pointer loops) over real UDP, and garbage over TCP.
 * The server must answer each with a well-formed reply or drop it, never crash, and keep
 * answering everyone else. Seeded, so a failure is reproducible; bounded in time.
 */
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import * as packet from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDnsApp, type DnsApp } from "../../images/dns/src/app";
import { respond } from "../../images/dns/src/responder";
import { ReplyCache } from "../../images/dns/src/replyCache";
import { createLogger } from "../../images/runtime/log";
import { dnsConfig, writeConfig } from "./fixture";
import { malformed, rng, SEEDS } from "./fuzz-inputs";

const log = createLogger({ role: "dns", level: "silent" });
let app: DnsApp;

beforeAll(async () => {
  app = await startDnsApp({
    configPath: writeConfig(dnsConfig({ rrl: { responsesPerSecond: 0 } }).config),
    host: "127.0.0.1",
    port: 0,
    log,
    watchIntervalMs: 0,
  });
});
afterAll(() => app?.close());

async function validQueryWorks(): Promise<void> {
  const socket = createSocket("udp4");
  try {
    const reply = new Promise<Buffer>((resolve) => socket.once("message", resolve));
    socket.send(SEEDS[0]!, app.server.port, "127.0.0.1");
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer within 2 s")), 2000));
    const decoded = packet.decode(await Promise.race([reply, timeout]));
    expect((decoded as { rcode?: string }).rcode).toBe("NOERROR");
    expect(decoded.answers).toHaveLength(2);
  } finally {
    socket.close();
  }
}

describe("dns fuzzing", () => {
  it("the responder never throws and every reply is a response to the same id (10,000 inputs)", () => {
    const random = rng(42);
    const zones = app.zones();
    const bad: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const input = malformed(random, i);
      const reply = respond(input, zones, i % 2 ? "udp" : "tcp", { maxUdpPayload: 1232 });
      if (!reply) continue;
      // Plain checks in the loop: expect() per iteration would dominate the run time.
      const ok =
        reply.message.readUInt16BE(0) === input.readUInt16BE(0) && (reply.message[2]! & 0x80) === 0x80 && (i % 2 === 0 || reply.message.length <= 1232);
      if (!ok) bad.push(input.toString("hex"));
    }
    expect(bad).toEqual([]);
  });

  it("the reply cache answers every input, in any name case, with the responder's own bytes (10,000 malformed + every zone name in random case)", () => {
    const random = rng(21);
    const zones = app.zones();
    const names = zones.origins.flatMap((origin) => [origin, `edge.${origin}`, `www.${origin}`, `nope.${origin}`, `_imaps._tcp.${origin}`]);
    const types = ["A", "AAAA", "MX", "TXT", "SRV", "NS", "SOA", "ANY", "CNAME", "PTR"] as const;
    const randomCase = (name: string) => [...name].map((c) => (random() < 0.5 ? c.toUpperCase() : c)).join("");
    const valid = Array.from({ length: 2000 }, (_, i) =>
      packet.encode({
        type: "query",
        id: i,
        flags: i % 3 ? packet.RECURSION_DESIRED : 0,
        questions: [{ type: types[i % types.length] as packet.RecordType, name: randomCase(names[i % names.length]!) }],
        additionals:
          i % 2
            ? [{ type: "OPT", name: ".", udpPayloadSize: 512 + (i % 5) * 300, options: [{ code: 10, data: Buffer.alloc(8, i) }] } as unknown as packet.Answer]
            : [],
      }),
    );
    const inputs = [...valid, ...Array.from({ length: 10_000 }, (_, i) => malformed(random, i))];
    const cache = new ReplyCache(1232);
    const bad: string[] = [];
    // Twice: the first pass fills the cache, the second answers from it.
    for (const pass of [1, 2]) {
      inputs.forEach((input, i) => {
        const transport = i % 2 ? "udp" : "tcp";
        const expected = respond(input, zones, transport, { maxUdpPayload: 1232 });
        const got = cache.answer(input, zones, transport);
        const same =
          expected === undefined ? got === undefined : got !== undefined && got.reply(input).equals(expected.message) && got.rrlKey === expected.rrlKey;
        if (!same) bad.push(`pass ${pass} ${transport} ${input.toString("hex")}`);
      });
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(cache.counts.hit).toBeGreaterThan(valid.length);
  });

  it("survives 10,000 malformed UDP datagrams and still answers", async () => {
    const random = rng(7);
    const socket = createSocket("udp4");
    let replies = 0;
    socket.on("message", (m) => {
      replies++;
      expect(m[2]! & 0x80).toBe(0x80); // only responses come back
    });
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
    for (let i = 0; i < 10_000; i++) {
      socket.send(malformed(random, i), app.server.port, "127.0.0.1");
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 2)); // let the kernel buffers drain
    }
    await new Promise((r) => setTimeout(r, 200));
    socket.close();
    // Many inputs deserve no reply (responses, headerless scraps); most others get FORMERR.
    expect(replies).toBeGreaterThan(2000);
    await validQueryWorks();
  });

  it("closes TCP connections that send garbage or stall, and keeps serving", async () => {
    const random = rng(9);
    const attempts = Array.from(
      { length: 200 },
      (_, i) =>
        new Promise<void>((resolve) => {
          const socket = connect(app.server.port, "127.0.0.1", () => {
            const body = malformed(random, i);
            const prefix = Buffer.alloc(2);
            // Sometimes the length prefix lies (longer than what follows: the server waits, then idles out).
            prefix.writeUInt16BE(i % 4 === 0 ? body.length + 100 : body.length);
            socket.end(Buffer.concat([prefix, body]));
          });
          socket.on("data", () => undefined);
          socket.on("error", () => resolve());
          socket.on("close", () => resolve());
          socket.setTimeout(3000, () => socket.destroy());
        }),
    );
    await Promise.all(attempts);
    await validQueryWorks();
  });
});
