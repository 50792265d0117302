/**
 * A load balancer's TCP health check against a listener that expects the PROXY protocol
 * (images/runtime/proxyProtocol.ts): it connects from the trusted address and hangs up without
 * sending a byte. That is not a bad header: the connection is closed without a warning (a
 * Hetzner balancer checks every 10 s per port), while a peer that hangs up inside a header, or
 * sends nothing and stays, is still refused and reported.
 */
import { createServer as createHttpServer } from "node:http";
import { connect, type AddressInfo, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { proxyProtocolServer } from "../../images/runtime/proxyProtocol";

const HEADER_TIMEOUT_MS = 200;
let front: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (front ? front.close(() => resolve()) : resolve())));

/** A listener trusting 127.0.0.1; resolves with what it reported once `client` is done and the header time is over. */
async function reports(client: (port: number) => Promise<void>): Promise<{ bad: string[]; handedOver: number }> {
  const bad: string[] = [];
  const target = createHttpServer();
  let handedOver = 0;
  target.on("connection", () => handedOver++);
  front = proxyProtocolServer(target, { trusted: (a) => a === "127.0.0.1", headerTimeoutMs: HEADER_TIMEOUT_MS, onBadHeader: (reason) => bad.push(reason) });
  await new Promise<void>((resolve) => front!.listen(0, "127.0.0.1", resolve));
  await client((front.address() as AddressInfo).port);
  // Past the header timeout: a timer left running would have reported by now.
  await new Promise((r) => setTimeout(r, HEADER_TIMEOUT_MS * 3));
  return { bad, handedOver };
}

/** Connects, sends `bytes`, half-closes, and waits for the server to close. */
const hangUp = (bytes: string) => (port: number) =>
  new Promise<void>((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => s.end(bytes));
    s.resume();
    s.on("close", () => resolve());
  });

describe("PROXY protocol and a balancer's TCP health check", () => {
  it("a trusted peer hanging up without a byte is closed quietly", async () => {
    expect(await reports(hangUp(""))).toEqual({ bad: [], handedOver: 0 });
  });

  it("a trusted peer hanging up inside a header is still reported", async () => {
    expect(await reports(hangUp("PROXY TCP4 203.0.113.7"))).toEqual({ bad: ["connection closed inside the PROXY header"], handedOver: 0 });
  });

  it("a trusted peer that stays silent is still dropped at the header timeout", async () => {
    const r = await reports(
      (port) =>
        new Promise<void>((resolve) => {
          const s = connect({ host: "127.0.0.1", port });
          s.on("close", () => resolve());
          s.on("error", () => resolve());
        }),
    );
    expect(r).toEqual({ bad: [`no complete PROXY header within ${HEADER_TIMEOUT_MS} ms`], handedOver: 0 });
  });
});
