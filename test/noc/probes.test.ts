/**
 * Every probe against a real server started here (the game server, smtp-server, ssh2) or a
 * stand-in marked as such (see standins.ts), plus the failures: refused, timed out, wrong answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../images/runtime/log";
import { nocSettingsSchema } from "../../images/noc/settings";
import { Monitor } from "../../images/noc/src/monitor";
import type { ProbeTarget } from "../../images/noc/src/probes";
import { startTestGame } from "../game/helpers";
import * as standIn from "./standins";

const log = createLogger({ role: "noc", level: "silent" });
const settings = nocSettingsSchema.parse({ timeoutMs: 800 });
const running: standIn.Running[] = [];
const pki = standIn.makeCertificates();
const ports: Record<string, number> = {};
let proxy: Awaited<ReturnType<typeof standIn.httpStandIn>>;
let gameRooms: () => number;

beforeAll(async () => {
  const keep = <T extends standIn.Running>(r: T) => (running.push(r), r);
  const { game } = await startTestGame();
  running.push({ port: game.port, close: () => game.close() });
  ports.game = game.port;
  gameRooms = () => game.rooms.size;
  ports.web = keep(await standIn.httpStandIn(200)).port;
  proxy = keep(await standIn.httpStandIn(200));
  ports.proxy = proxy.port;
  ports.broken = keep(await standIn.httpStandIn(502)).port;
  ports.smtp = keep(await standIn.smtpServer()).port;
  ports.imaps = keep(await standIn.greetingStandIn("* OK [CAPABILITY IMAP4rev1] ready", pki)).port;
  ports.pop3s = keep(await standIn.greetingStandIn("+OK POP3 ready", pki)).port;
  ports.ftp = keep(await standIn.greetingStandIn("220 FTP ready")).port;
  ports.sftp = keep(await standIn.sshServer()).port;
  ports.dns = keep(await standIn.dnsStandIn("fra1.park.test")).port;
  ports.pg = keep(await standIn.postgresStandIn()).port;
  ports.pgRefuses = keep(await standIn.postgresStandIn(true)).port;
  ports.silent = keep(await standIn.silentServer()).port;
});
afterAll(async () => {
  for (const r of running) await r.close();
});

const target = (service: string, role: string, name: string, port: number, protocol = "tcp"): ProbeTarget => ({
  service,
  role,
  replica: `${service}-0`,
  host: "h1",
  port: { name, port, protocol },
  address: "127.0.0.1",
});

async function probeOnce(t: ProbeTarget, options: { ca?: Buffer; timeoutMs?: number } = {}) {
  const monitor = new Monitor({
    targets: [t],
    settings: { ...settings, timeoutMs: options.timeoutMs ?? settings.timeoutMs },
    domain: "fra1.park.test",
    log,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  await monitor.runRound();
  return monitor.status().probes[0]!;
}

describe("probes against servers that answer", () => {
  it.each([
    ["http direct (stand-in web)", () => target("www", "web", "http", ports.web!), /HTTP 200/],
    ["dns over udp (stand-in)", () => target("ns", "dns", "dns", ports.dns!, "udp"), /SOA fra1.park.test serial 2026112701/],
    ["dns over tcp (stand-in)", () => target("ns", "dns", "dns-tcp", ports.dns!), /SOA fra1.park.test serial/],
    ["smtp EHLO (smtp-server)", () => target("mail", "mail", "smtp", ports.smtp!), /EHLO 250/],
    ["submission EHLO (smtp-server)", () => target("mail", "mail", "submission", ports.smtp!), /EHLO 250/],
    ["ftp greeting (stand-in)", () => target("files", "file", "ftp", ports.ftp!), /220 FTP ready/],
    ["ssh handshake (ssh2 server)", () => target("files", "file", "sftp", ports.sftp!), /SSH handshake \(SSH-2.0-serverpark-test/],
    ["SELECT 1 (stand-in postgres)", () => target("db", "db", "postgres", ports.pg!), /SELECT 1 = 1/],
    ["a login refused by postgres still proves the server answers", () => target("db", "db", "postgres", ports.pgRefuses!), /SQLSTATE 28P01/],
    ["websocket join (the real game server)", () => target("arena", "game", "game", ports.game!), /joined room r\d+/],
  ])("%s", async (_name, make, detail) => {
    const r = await probeOnce(make());
    expect(r).toMatchObject({ state: "up" });
    expect(r.detail).toMatch(detail);
  });

  it("IMAP and POP3 greetings over TLS, verified against the datacenter CA", async () => {
    const imap = await probeOnce(target("mail", "mail", "imaps", ports.imaps!), { ca: pki.ca });
    expect(imap).toMatchObject({ state: "up", kind: "imap-greeting" });
    expect(imap.detail).toMatch(/^\* OK .*TLS verified/);
    const pop = await probeOnce(target("mail", "mail", "pop3s", ports.pop3s!), { ca: pki.ca });
    expect(pop).toMatchObject({ state: "up", kind: "pop3-greeting" });
  });

  it("a TLS server whose certificate the CA did not sign is down", async () => {
    const other = standIn.makeCertificates();
    const r = await probeOnce(target("mail", "mail", "imaps", ports.imaps!), { ca: other.ca });
    expect(r.state).toBe("down");
  });

  it("goes through the proxy with the site's Host header", async () => {
    const r = await probeOnce(target("edge", "proxy", "http", ports.proxy!));
    expect(r).toMatchObject({ state: "up", kind: "http-via-proxy" });
    expect(proxy.hosts.at(-1)).toBe("fra1.park.test");
  });

  it("leaves no player behind in the game after the probe", async () => {
    const r = await probeOnce(target("arena", "game", "game", ports.game!));
    expect(r.state).toBe("up");
    await new Promise((done) => setTimeout(done, 100));
    expect(gameRooms()).toBe(0);
  });
});

describe("probes against servers that do not", () => {
  it("counts a server that never answers down when the probe times out", async () => {
    const started = Date.now();
    const r = await probeOnce(target("mail", "mail", "smtp", ports.silent!), { timeoutMs: 300 });
    expect(r).toMatchObject({ state: "down", detail: "timed out after 300 ms" });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it.each([
    ["smtp", "mail", "smtp"],
    ["dns", "dns", "dns-tcp"],
    ["ssh", "file", "sftp"],
    ["postgres", "db", "postgres"],
    ["game", "game", "game"],
    ["http", "web", "http"],
  ])("a refused %s connection is down", async (_n, role, port) => {
    const r = await probeOnce(target("x", role, port, 1));
    expect(r).toMatchObject({ state: "down" });
    expect(r.detail).toMatch(/ECONNREFUSED|closed|refused/i);
  });

  it("an HTTP 502 is degraded, not up", async () => {
    expect(await probeOnce(target("edge", "proxy", "http", ports.broken!))).toMatchObject({ state: "degraded", detail: expect.stringContaining("HTTP 502") });
  });

  it("a silent server times out for every protocol", async () => {
    for (const [role, name] of [
      ["dns", "dns-tcp"],
      ["file", "sftp"],
      ["db", "postgres"],
      ["game", "game"],
      ["mail", "imaps"],
    ] as const) {
      const r = await probeOnce(target("x", role, name, ports.silent!), { timeoutMs: 250 });
      expect(r, `${name}`).toMatchObject({ state: "down" });
    }
  });
});
