/** The management port binds the replica's management address and loopback, nothing else. */
import { connect } from "node:net";
import { afterAll, expect, it } from "vitest";
import { createLogger, startManagementServer } from "../../images/runtime";

const saved = process.env.SP_MGMT_ADDRESS;
afterAll(() => {
  if (saved === undefined) delete process.env.SP_MGMT_ADDRESS;
  else process.env.SP_MGMT_ADDRESS = saved;
});

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

it("listens on SP_MGMT_ADDRESS and 127.0.0.1 only", async () => {
  process.env.SP_MGMT_ADDRESS = "127.0.0.2"; // any 127/8 address is local on Linux
  const server = await startManagementServer({ port: 0, log: createLogger({ role: "test", level: "silent" }), readiness: () => ({ ready: true }) });
  try {
    expect(await reachable("127.0.0.2", server.port)).toBe(true);
    expect(await reachable("127.0.0.1", server.port)).toBe(true);
    expect(await reachable("127.0.0.3", server.port)).toBe(false);
    const res = await fetch(`http://127.0.0.2:${server.port}/healthz`);
    expect(res.status).toBe(200);
  } finally {
    await server.close();
  }
});
