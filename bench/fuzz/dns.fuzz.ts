/**
 * Long DNS fuzzing (contract: ./run.ts): the unit test's seeded inputs (test/dns/fuzz-inputs.ts)
 * against the real server in its own process — 49 of every 50 as UDP datagrams, every 50th
 * over TCP with a length prefix that lies half the time. Every 1,000 inputs a real query
 * must be answered (NOERROR with the two A records) within 5 s.
 */
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import * as packet from "dns-packet";
import { malformed, rng, SEEDS } from "../../test/dns/fuzz-inputs";
import { runFuzz } from "./child";

const random = rng(20261206);
const udp = createSocket("udp4");
udp.on("message", () => undefined);
udp.unref();

function overTcp(port: number, body: Buffer, lie: boolean): Promise<void> {
  return new Promise((resolve) => {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(Math.min(65535, lie ? body.length + 100 : body.length));
    const socket = connect(port, "127.0.0.1", () => socket.end(Buffer.concat([prefix, body])));
    socket.on("data", () => undefined);
    socket.on("error", () => resolve());
    socket.on("close", () => resolve());
    socket.setTimeout(5000, () => socket.destroy());
  });
}

async function answered(port: number): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const socket = createSocket("udp4");
    try {
      const reply = await new Promise<Buffer | undefined>((resolve) => {
        socket.once("message", resolve);
        setTimeout(() => resolve(undefined), 5000);
        socket.send(SEEDS[0]!, port, "127.0.0.1");
      });
      if (!reply) continue;
      const decoded = packet.decode(reply) as packet.Packet & { rcode?: string };
      return decoded.rcode === "NOERROR" && (decoded.answers ?? []).length === 2;
    } finally {
      socket.close();
    }
  }
  return false;
}

void runFuzz({
  protocol: "dns",
  server: "dns",
  count: Number(process.argv[2] ?? 100_000),
  rssBoundMiB: 256,
  checkEvery: 1000,
  async send(port, i) {
    const input = malformed(random, i);
    if (i % 50 === 49) return overTcp(port, input, i % 100 === 99);
    udp.send(input, port, "127.0.0.1");
    if (i % 100 === 98) await new Promise((r) => setTimeout(r, 2)); // let the kernel buffers drain
  },
  alive: answered,
});
