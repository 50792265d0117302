/**
 * The management port: mutual TLS on the management address, authorisation per caller
 * (contracts/management.ts), plain HTTP on loopback for the container itself, and nothing
 * else — checked with curl, a client we did not write.
 */
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, managementListener, startManagementServer, type ManagementServer } from "../../images/runtime";
import { makeManagementPki, type ManagementPki, type Pair } from "../support/managementPki";

const run = promisify(execFile);
const log = createLogger({ role: "test", level: "silent" });
const ADDRESS = "127.0.0.2"; // any 127/8 address is local on Linux; it plays the management address

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

/** curl's verdict: the HTTP status, or `curl exit N` when no HTTP answer came (a refused handshake). */
async function curl(url: string, options: { as?: Pair; ca?: string; method?: string; extra?: string[] } = {}): Promise<string> {
  const args = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-X", options.method ?? "GET"];
  if (options.ca) args.push("--cacert", options.ca);
  if (options.as) args.push("--cert", options.as.cert, "--key", options.as.key);
  try {
    const { stdout } = await run("curl", [...args, ...(options.extra ?? []), url]);
    return stdout.trim();
  } catch (error) {
    return `curl exit ${(error as { code?: number }).code}`;
  }
}

describe("management port with TLS", () => {
  let pki: ManagementPki;
  let server: ManagementServer;
  let changes = 0;
  const base = () => `https://${ADDRESS}:${server.port}`;

  beforeAll(async () => {
    pki = makeManagementPki([ADDRESS]);
    server = await startManagementServer({
      port: 0,
      host: ADDRESS,
      tls: { certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca },
      log,
      readiness: () => ({ ready: true }),
      routes: [
        { method: "GET", path: "/state", handler: () => ({ status: 200, body: { changes } }) },
        { method: "POST", path: "/state", handler: () => ({ status: 200, body: { changes: ++changes } }) },
      ],
    });
  });
  afterAll(() => server?.close());

  it("listens on the management address and loopback only", async () => {
    expect(await reachable(ADDRESS, server.port)).toBe(true);
    expect(await reachable("127.0.0.1", server.port)).toBe(true);
    expect(await reachable("127.0.0.3", server.port)).toBe(false);
  });

  it("refuses a TLS handshake without a client certificate, or with one from another CA", async () => {
    expect(await curl(`${base()}/healthz`, { ca: pki.ca })).toMatch(/^curl exit/);
    expect(await curl(`${base()}/state`, { ca: pki.ca, as: pki.foreignOperator, method: "POST" })).toMatch(/^curl exit/);
    expect(await curl(`http://${ADDRESS}:${server.port}/healthz`)).not.toBe("200");
  });

  it("admits a service certificate to nothing, even one named noc", async () => {
    expect(await curl(`${base()}/healthz`, { ca: pki.ca, as: pki.serviceNamedNoc })).toBe("403");
    expect(await curl(`${base()}/metrics`, { ca: pki.ca, as: pki.serviceNamedNoc })).toBe("403");
    expect(await curl(`${base()}/state`, { ca: pki.ca, as: pki.serviceNamedNoc, method: "POST" })).toBe("403");
  });

  it("lets the NOC read but not change, and the operator do both", async () => {
    const before = changes;
    expect(await curl(`${base()}/healthz`, { ca: pki.ca, as: pki.noc })).toBe("200");
    expect(await curl(`${base()}/metrics`, { ca: pki.ca, as: pki.noc })).toBe("200");
    expect(await curl(`${base()}/state`, { ca: pki.ca, as: pki.noc, method: "POST" })).toBe("403");
    expect(changes).toBe(before);
    expect(await curl(`${base()}/state`, { ca: pki.ca, as: pki.operator, method: "POST" })).toBe("200");
    expect(changes).toBe(before + 1);
    const metrics = await run("curl", ["-s", "--cacert", pki.ca, "--cert", pki.operator.cert, "--key", pki.operator.key, `${base()}/metrics`]);
    expect(metrics.stdout).toMatch(/serverpark_management_denied_total\{access="change"\} [1-9]/);
  });

  it("refuses TLS older than 1.2", async () => {
    expect(await curl(`${base()}/healthz`, { ca: pki.ca, as: pki.operator, extra: ["--tlsv1.0", "--tls-max", "1.1"] })).toMatch(/^curl exit/);
  });

  it("serves the container itself over loopback without a certificate", async () => {
    expect(await curl(`http://127.0.0.1:${server.port}/healthz`)).toBe("200");
    expect(await curl(`http://127.0.0.1:${server.port}/state`, { method: "POST" })).toBe("200");
  });
});

describe("management port with TLS on every address (a container published from outside)", () => {
  it("speaks only mutual TLS, and takes its own certificate from loopback as the container itself", async () => {
    const pki = makeManagementPki(["127.0.0.1", ADDRESS]);
    const server = await startManagementServer({
      port: 0,
      host: "0.0.0.0",
      tls: { certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca },
      log,
      readiness: () => ({ ready: true }),
    });
    try {
      expect(await curl(`https://${ADDRESS}:${server.port}/healthz`, { ca: pki.ca, as: pki.noc })).toBe("200");
      expect(await curl(`https://${ADDRESS}:${server.port}/healthz`, { ca: pki.ca, as: pki.serviceNamedNoc })).toBe("403");
      expect(await curl(`https://${ADDRESS}:${server.port}/healthz`, { ca: pki.ca })).toMatch(/^curl exit/);
      expect(await curl(`http://127.0.0.1:${server.port}/healthz`)).not.toBe("200");
      // The container's own certificate (the health check's): "local", so even a change is allowed.
      expect(await curl(`https://127.0.0.1:${server.port}/healthz`, { ca: pki.ca, as: pki.server, method: "POST" })).toBe("405");
      expect(await curl(`https://127.0.0.1:${server.port}/healthz`, { ca: pki.ca, as: pki.server })).toBe("200");
    } finally {
      await server.close();
    }
  });
});

describe("management port without TLS", () => {
  it("binds loopback only by default", async () => {
    const server = await startManagementServer({ port: 0, log, readiness: () => ({ ready: true }) });
    try {
      expect(await reachable("127.0.0.1", server.port)).toBe(true);
      expect(await reachable(ADDRESS, server.port)).toBe(false);
    } finally {
      await server.close();
    }
  });

  it("refuses plain HTTP on an address beyond loopback unless asked to be insecure", async () => {
    await expect(startManagementServer({ port: 0, host: "0.0.0.0", log, readiness: () => ({ ready: true }) })).rejects.toThrow(
      /refusing plain HTTP on the management address 0\.0\.0\.0/,
    );
  });

  it("in the datacenter (a management address) needs the replica's TLS files, or does not start", async () => {
    const listener = managementListener({ SP_MGMT_ADDRESS: "10.42.1.7", SP_TLS_CERT: "/nonexistent/tls.crt" });
    expect(listener).toMatchObject({ host: "10.42.1.7", tls: { certFile: "/nonexistent/tls.crt" } });
    await expect(startManagementServer({ port: 0, log, readiness: () => ({ ready: true }), ...listener })).rejects.toThrow(
      /cannot read TLS (certificate|private key) \//,
    );
    expect(managementListener({})).toEqual({ host: "127.0.0.1" });
    expect(managementListener({ SP_MGMT_INSECURE: "true" })).toEqual({ host: "0.0.0.0", insecure: true });
  });
});
