/**
 * Long HTTP fuzzing of the web server (contract: ./run.ts) with the unit test's seeded
 * generators (test/web/malformed.ts): every 10th input is a malformed request on a
 * connection of its own (32 in flight), the others are well-framed hostile requests
 * pipelined 100 to a keep-alive connection. Every 1,000 inputs `GET /` must answer 200
 * with the site within 5 s.
 */
import { hostileRequest, malformedRequest, rawExchange, rng } from "../../test/web/malformed";
import { runFuzz } from "./child";

const random = rng(20261206);
const inFlight = new Set<Promise<unknown>>();
let batch: string[] = [];

async function limit(p: Promise<unknown>, max: number): Promise<void> {
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
  while (inFlight.size >= max) await Promise.race(inFlight);
}

void runFuzz({
  protocol: "http",
  server: "http",
  count: Number(process.argv[2] ?? 100_000),
  rssBoundMiB: 320,
  checkEvery: 1000,
  async send(port, i) {
    if (i % 10 === 0) return limit(rawExchange(port, malformedRequest(random, i), true, 300), 32);
    batch.push(hostileRequest(random));
    if (batch.length < 90 && i % 1000 !== 999) return;
    const data = Buffer.from(batch.join("") + "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    batch = [];
    return limit(rawExchange(port, data, false, 10_000), 32);
  },
  async alive(port) {
    await Promise.all(inFlight);
    const reply = await rawExchange(port, Buffer.from("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"), true, 5000);
    return /^HTTP\/1\.1 200 OK/.test(reply) && reply.includes("site a");
  },
});
