/**
 * The chaos run's probes (cli/chaos/probes/) against real local servers on port 0: each says
 * up only when the service answered through its protocol as it should, and a client with
 * several addresses tries the next one. The private-network prober's script runs here under
 * node directly, against a stand-in SSH greeting and PostgreSQL startup handshake.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import * as packet from "dns-packet";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { loadPlan } from "../../cli/stack";
import { planDatacenter } from "../../components/plan";
import { loadStackFile } from "../../components/spec/load";
import { validateSpec } from "../../components/spec/validate";
import { Sampler, toProbeSamples } from "../../cli/chaos/measure";
import { datacenterProbes } from "../../cli/chaos/probes";
import { freeAddress, PROBE_SCRIPT, startPrivateProber, type PrivateTarget } from "../../cli/chaos/probes/private";
import { anyOf, dnsSoa, httpGet, tcpGreeting, tlsGreeting, websocketOpen, type Endpoint } from "../../cli/chaos/probes/protocols";
import { selfSigned } from "../web/curl";

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function listen(server: Server | TcpServer): Promise<Endpoint> {
  // The stand-ins write and close; a prober that resets its side first (it has what it needs)
  // makes the server's socket emit ECONNRESET, which is the prober's business, not a test error.
  const ignoreReset = (socket: Socket) => socket.on("error", () => undefined);
  server.on("connection", ignoreReset);
  server.on("secureConnection", ignoreReset);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return { host: "127.0.0.1", port: (server.address() as AddressInfo).port };
}

/**
 * A port nothing listens on (refused at once), on a loopback address no other test binds: a
 * port just closed on 127.0.0.1 could be taken by another test file's server before the probe
 * connects (seen once in CI: the "refused" address answered).
 */
async function closedPort(): Promise<Endpoint> {
  const host = "127.77.0.1";
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return { host, port };
}

const within = (ms: number) => AbortSignal.timeout(ms);

describe("HTTP and HTTPS through a name", () => {
  it("up below 500, down on 5xx; the Host header names the site; a refused address is skipped for the next", async () => {
    const hosts: string[] = [];
    const caching: (string | undefined)[] = [];
    const ok = await listen(
      createHttpServer((req, res) => {
        hosts.push(req.headers.host ?? "");
        caching.push(req.headers["cache-control"]);
        res.writeHead(200).end("hi");
      }),
    );
    const failing = await listen(createHttpServer((_req, res) => res.writeHead(503).end()));
    const get = httpGet({ tls: false, hostname: "www.dc.test", path: "/" });
    await expect(anyOf([await closedPort(), ok], get)(within(5000))).resolves.toBeUndefined();
    expect(hosts).toEqual(["www.dc.test"]);
    // Asked fresh, a cache on the way must ask the server.
    await httpGet({ tls: false, hostname: "www.dc.test", path: "/", fresh: true })(ok, within(5000));
    expect(caching).toEqual([undefined, "no-cache"]);
    await expect(anyOf([failing], get)(within(5000))).rejects.toThrow(/HTTP 503/);
  });

  it("HTTPS sends the name as SNI and does not need the datacenter's CA", async () => {
    const cert = await selfSigned(["www.dc.test"]);
    const names: (string | false | null)[] = [];
    const server = createHttpsServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, (req, res) => {
      names.push((req.socket as import("node:tls").TLSSocket).servername);
      res.writeHead(204).end();
    });
    const e = await listen(server);
    await expect(httpGet({ tls: true, hostname: "www.dc.test", path: "/" })(e, within(5000))).resolves.toBeUndefined();
    expect(names).toEqual(["www.dc.test"]);
  });
});

describe("the game's WebSocket", () => {
  it("up when the upgrade succeeds, down when the server refuses the upgrade", async () => {
    const cert = await selfSigned(["arena.dc.test"]);
    const server = createHttpsServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, (_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ server, path: "/ws" });
    closers.push(() => wss.close());
    const e = await listen(server);
    await expect(websocketOpen({ tls: true, hostname: "arena.dc.test", path: "/ws" })(e, within(5000))).resolves.toBeUndefined();
    await expect(websocketOpen({ tls: true, hostname: "arena.dc.test", path: "/other" })(e, within(5000))).rejects.toThrow(/HTTP 400 instead of a WebSocket/);
  });
});

describe("DNS", () => {
  async function nameServer(answer: "soa" | "refused" | "silent"): Promise<Endpoint> {
    const socket: UdpSocket = createSocket("udp4");
    socket.on("message", (msg, from) => {
      if (answer === "silent") return;
      const q = packet.decode(msg);
      const flags = packet.AUTHORITATIVE_ANSWER | (answer === "refused" ? 5 : 0);
      const soa = { mname: "ns.dc.test", rname: "admin.dc.test", serial: 7, refresh: 1, retry: 1, expire: 1, minimum: 1 };
      const answers: packet.Answer[] = answer === "soa" ? [{ type: "SOA", name: "dc.test", ttl: 60, data: soa }] : [];
      socket.send(packet.encode({ type: "response", id: q.id, flags, questions: q.questions, answers }), from.port, from.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    closers.push(() => socket.close());
    return { host: "127.0.0.1", port: socket.address().port };
  }

  it("an authoritative SOA answer is up; REFUSED is down; a silent first server is left for the second after its share of time", async () => {
    const soa = dnsSoa("dc.test");
    await expect(anyOf([await nameServer("soa")], soa)(within(5000))).resolves.toBeUndefined();
    await expect(anyOf([await nameServer("refused")], soa)(within(5000))).rejects.toThrow(/rcode 5/);
    await expect(anyOf([await nameServer("silent"), await nameServer("soa")], soa, 300)(within(5000))).resolves.toBeUndefined();
  });
});

describe("greetings", () => {
  const greeter = (line: string) => createTcpServer((s) => s.end(line));
  it("SMTP: a 220 greeting is up, a 554 is down, a refused port is down", async () => {
    const smtp = tcpGreeting(/^220[ -]/);
    await expect(smtp(await listen(greeter("220 mail.dc.test ESMTP\r\n")), within(5000))).resolves.toBeUndefined();
    await expect(smtp(await listen(greeter("554 go away\r\n")), within(5000))).rejects.toThrow(/unexpected greeting/);
    await expect(smtp(await closedPort(), within(5000))).rejects.toThrow(/ECONNREFUSED/);
  });

  it("IMAPS: the TLS handshake, then `* OK`", async () => {
    const cert = await selfSigned(["mail.dc.test"]);
    const server = createTlsServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, (s) => s.end("* OK IMAP4rev1 ready\r\n"));
    await expect(tlsGreeting("mail.dc.test", /^\* OK/)(await listen(server), within(5000))).resolves.toBeUndefined();
  });

  it("a server that accepts and says nothing is down when the time is up", async () => {
    const mute = await listen(createTcpServer(() => undefined));
    await expect(tcpGreeting(/^220/)(mute, within(200))).rejects.toThrow();
  });
});

describe("the private-network prober's script", () => {
  it("SSH greeting and PostgreSQL startup: up on SSH-2.0 and an authentication request, down while starting up or refused", async () => {
    const ssh = await listen(createTcpServer((s) => s.end("SSH-2.0-serverpark\r\n")));
    const auth = Buffer.alloc(9);
    auth.write("R", 0);
    auth.writeInt32BE(8, 1);
    auth.writeInt32BE(10, 5); // AuthenticationSASL
    const pgUp = await listen(createTcpServer((s) => s.once("data", () => s.end(auth))));
    const fields = Buffer.from("SFATAL\0C57P03\0Mthe database system is starting up\0\0");
    const error = Buffer.alloc(5);
    error.write("E", 0);
    error.writeInt32BE(4 + fields.length, 1);
    const pgStarting = await listen(createTcpServer((s) => s.once("data", () => s.end(Buffer.concat([error, fields])))));
    const targets: PrivateTarget[] = [
      { probe: "files/sftp", kind: "ssh", ...ssh },
      { probe: "db/postgres", kind: "postgres", ...pgUp },
      { probe: "db2/postgres", kind: "postgres", ...pgStarting },
      { probe: "gone/postgres", kind: "postgres", ...(await closedPort()) },
    ];
    const options = { name: "t", network: "n", address: "a", image: "i", targets, intervalMs: 50, timeoutMs: 2000 };
    const prober = startPrivateProber(options, { file: process.execPath, args: ["-e", PROBE_SCRIPT, JSON.stringify(targets), "50", "2000"] });
    closers.push(() => prober.stop());
    await prober.ready;
    while (targets.some((t) => prober.samples.filter((s) => s.probe === t.probe).length < 3)) await new Promise((r) => setTimeout(r, 50));
    await prober.stop();
    const verdicts = (probe: string) => new Set(prober.samples.filter((s) => s.probe === probe).map((s) => s.ok));
    expect(verdicts("files/sftp")).toEqual(new Set([true]));
    expect(verdicts("db/postgres")).toEqual(new Set([true]));
    expect(verdicts("db2/postgres")).toEqual(new Set([false]));
    expect(verdicts("gone/postgres")).toEqual(new Set([false]));
    expect(prober.samples.find((s) => s.probe === "db2/postgres")?.why).toBe("SQLSTATE 57P03");
  });

  it("picks the highest address of the network that the plan does not use", () => {
    expect(freeAddress("10.42.1.0/24", new Set(["10.42.1.254"]))).toBe("10.42.1.253");
    expect(freeAddress("10.42.101.0/24", new Set())).toBe("10.42.101.254");
  });
});

describe("the local stack's probes", () => {
  it("probe every service once through its own protocol, public ones on what is published, back-ends on their private addresses", () => {
    const { plan, hostPorts } = loadPlan("local", process.cwd());
    const published = new Map(
      plan.replicas.map((r) => [
        r.id,
        new Map(hostPorts.byReplica.get(r.id)!.map((p) => [`${p.port}/${p.protocol}`, { host: "127.0.0.1", port: p.hostPort }])),
      ]),
    );
    const set = datacenterProbes(plan, published);
    expect(set.public.map((p) => p.probe)).toEqual(["www/http", "www/https", "ns/dns", "mail/smtp", "mail/imaps", "arena/websocket", "noc/http"]);
    expect(set.private).toEqual([
      { probe: "files/sftp", kind: "ssh", host: "10.42.1.17", port: 22 },
      // The HA group's two data nodes (db-0, db-1); never its monitor.
      { probe: "db/postgres", kind: "postgres", host: "10.42.1.18", port: 5432 },
      { probe: "db/postgres", kind: "postgres", host: "10.42.1.20", port: 5432 },
    ]);
    expect(set.privateNetwork).toBe("private");
  });

  it("probe an HA db's data nodes, never its monitor (it serves no client)", () => {
    const spec = validateSpec(
      (() => {
        const input = structuredClone(loadStackFile("local").config["serverpark:datacenter"]) as { services: { id: string; replicas: number }[] };
        input.services.find((s) => s.id === "db")!.replicas = 2;
        return input;
      })(),
    );
    if (!spec.ok) throw new Error("the local stack with two db replicas is invalid");
    const plan = planDatacenter(spec.spec);
    const address = (id: string) => plan.replicas.find((r) => r.id === id)!.addresses.private;
    const db = datacenterProbes(plan, new Map()).private.filter((t) => t.probe.startsWith("db/"));
    expect(db.map((t) => t.host)).toEqual([address("db-0"), address("db-1")]);
    expect(db.map((t) => t.host)).not.toContain(address("db-monitor"));
  });
});

describe("the sampler", () => {
  it("samples every probe on a beat and puts the samples on the run's clock", async () => {
    let n = 0;
    const sampler = new Sampler(
      [{ probe: "x/y", service: "x", timeoutMs: 1000, check: async () => (n++ % 2 === 0 ? undefined : Promise.reject(new Error("down"))) }],
      20,
    );
    const startedMs = Date.now();
    sampler.start();
    while (sampler.samples.length < 4) await new Promise((r) => setTimeout(r, 20));
    await sampler.stop();
    const [probe] = toProbeSamples([{ probe: "x/y", service: "x" }], sampler.samples, startedMs, 20);
    expect(probe!.intervalSeconds).toBe(0.02);
    expect(probe!.samples.slice(0, 2).map((s) => s.ok)).toEqual([true, false]);
    expect(probe!.samples.every((s) => s.at >= 0)).toBe(true);
    expect(toProbeSamples([{ probe: "x/y", service: "x" }], sampler.samples, Date.now() + 60_000)[0]!.samples).toEqual([]);
  });

  it("times an answer when it came and a failure when it was asked", async () => {
    // One slow attempt (its answer comes 300 ms after it was asked), then fast failures.
    let first = true;
    const sampler = new Sampler(
      [
        {
          probe: "x/y",
          service: "x",
          timeoutMs: 2000,
          check: () => {
            if (!first) return Promise.reject(new Error("down"));
            first = false;
            return new Promise<void>((r) => setTimeout(r, 300));
          },
        },
      ],
      50,
    );
    const startedMs = Date.now();
    sampler.start();
    while (!sampler.samples.some((s) => s.ok)) await new Promise((r) => setTimeout(r, 20));
    await sampler.stop();
    const [probe] = toProbeSamples([{ probe: "x/y", service: "x" }], sampler.samples, startedMs, 50);
    const answer = probe!.samples.find((s) => s.ok)!;
    expect(answer.at).toBeGreaterThanOrEqual(0.3); // asked at 0, answered at 0.3 s: up at 0.3 s
    expect(probe!.samples[0]).toMatchObject({ ok: false }); // the failures asked meanwhile come first
  });
});

describe("a probe with a target per data node (an HA db)", () => {
  it("a round is up when any target answered: the dead node's failure does not count while the primary answers", () => {
    const raw = [
      // Round 1: the dead node fails (timed when asked), the new primary answers.
      { probe: "db/query", t: 1000, asked: 1000, ok: false, round: 1 },
      { probe: "db/query", t: 1040, asked: 1001, ok: true, round: 1 },
      // Round 2: both fail (the failover is under way).
      { probe: "db/query", t: 1250, asked: 1250, ok: false, round: 2 },
      { probe: "db/query", t: 1251, asked: 1251, ok: false, round: 2 },
      // A probe with one target and no rounds is kept as it is.
      { probe: "ns/dns", t: 1000, ok: false },
      { probe: "ns/dns", t: 1250, ok: true },
    ];
    const [db, ns] = toProbeSamples(
      [
        { probe: "db/query", service: "db" },
        { probe: "ns/dns", service: "ns" },
      ],
      raw,
      0,
    );
    expect(db!.samples).toEqual([
      { at: 1.04, ok: true, askedAt: 1.001 },
      { at: 1.25, ok: false, askedAt: 1.25 },
    ]);
    expect(ns!.samples.map((s) => s.ok)).toEqual([false, true]);
  });
});
