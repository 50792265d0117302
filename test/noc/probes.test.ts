/**
 * Every probe against a real server started here (the game server, smtp-server, ssh2) or a
 * stand-in marked as such (see standins.ts), plus the failures: refused, timed out, wrong answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../images/runtime/log";
import { nocSettingsSchema } from "../../contracts/settings/noc";
import { Monitor } from "../../images/noc/src/monitor";
import type { ProbeTarget } from "../../images/noc/src/probes";
import { nocView } from "../../components/model/nocView";
import { loadPlan } from "../../cli/stack";
import { startTestGame } from "../game/helpers";
import * as standIn from "./standins";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { haveTools } from "../mail/support";

const execFileP = promisify(execFile);

const log = createLogger({ role: "noc", level: "silent" });
// Generous for servers that answer (a loaded machine can take seconds); the down cases set their own short timeouts.
const settings = nocSettingsSchema.parse({ timeoutMs: 8000 });
const running: standIn.Running[] = [];
const pki = standIn.makeCertificates(["www.fra1.park.test", "files.fra1.park.test"]);
const DB_PASSWORD = "probe-password-0123456789";
const ports: Record<string, number> = {};
let proxy: Awaited<ReturnType<typeof standIn.httpStandIn>>;
let proxyTls: Awaited<ReturnType<typeof standIn.httpsStandIn>>;
let ftps: Awaited<ReturnType<typeof standIn.ftpsStandIn>>;
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
  ftps = keep(await standIn.ftpsStandIn(pki));
  ports.ftp = ftps.port;
  ports.ftpNoTls = keep(await standIn.ftpsStandIn(pki, "no-tls")).port;
  ports.ftpInject = keep(await standIn.ftpsStandIn(pki, "inject")).port;
  proxyTls = keep(await standIn.httpsStandIn(pki));
  ports.proxyTls = proxyTls.port;
  ports.sftp = keep(await standIn.sshServer()).port;
  ports.dns = keep(await standIn.dnsStandIn("fra1.park.test")).port;
  ports.pg = keep(await standIn.postgresStandIn(false, pki)).port;
  ports.pgRefuses = keep(await standIn.postgresStandIn(true, pki)).port;
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

/** `ca` defaults to the stand-ins' CA; `null` runs the probe without one. */
async function probeOnce(t: ProbeTarget, options: { ca?: Buffer | null; timeoutMs?: number; dbPassword?: string; proxyHosts?: Record<string, string> } = {}) {
  const ca = options.ca === undefined ? pki.ca : options.ca;
  const monitor = new Monitor({
    targets: [t],
    settings: { ...settings, timeoutMs: options.timeoutMs ?? settings.timeoutMs },
    domain: "fra1.park.test",
    log,
    dbPassword: options.dbPassword ?? DB_PASSWORD,
    ...(ca ? { ca } : {}),
    ...(options.proxyHosts ? { proxyHosts: options.proxyHosts } : {}),
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
    ["ssh handshake (ssh2 server)", () => target("files", "file", "sftp", ports.sftp!), /SSH handshake \(SSH-2.0-serverpark-test/],
    ["SELECT 1 (stand-in postgres)", () => target("db", "db", "postgres", ports.pg!), /SELECT 1 = 1 as noc@postgres/],
    ["websocket join (the real game server)", () => target("arena", "game", "game", ports.game!), /joined room r\d+/],
  ])("%s", async (_name, make, detail) => {
    const r = await probeOnce(make(), { ca: pki.ca });
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

  it("goes through the proxy with the site's Host header (the name the hook chose, else the domain)", async () => {
    const r = await probeOnce(target("edge", "proxy", "http", ports.proxy!), { proxyHosts: { edge: "www.fra1.park.test" } });
    expect(r).toMatchObject({ state: "up", kind: "http-via-proxy", detail: "HTTP 200 via proxy (Host www.fra1.park.test)" });
    expect(proxy.hosts.at(-1)).toBe("www.fra1.park.test");
    await probeOnce(target("edge", "proxy", "http", ports.proxy!));
    expect(proxy.hosts.at(-1)).toBe("fra1.park.test");
  });

  it("asks a web server directly without the proxy's Host", async () => {
    const r = await probeOnce(target("www", "web", "http", ports.proxy!), { proxyHosts: { edge: "www.fra1.park.test" } });
    expect(r).toMatchObject({ state: "up", kind: "http" });
    expect(proxy.hosts.at(-1)).toBe(`127.0.0.1:${ports.proxy}`);
  });

  it("goes through the proxy over HTTPS with SNI and Host of a name on its certificate, verified by the CA", async () => {
    const r = await probeOnce(target("edge", "proxy", "https", ports.proxyTls!), { ca: pki.ca, proxyHosts: { edge: "www.fra1.park.test" } });
    expect(r).toMatchObject({ state: "up", kind: "https-via-proxy" });
    expect(r.detail).toBe("HTTP 200 via proxy (Host www.fra1.park.test), TLS verified as www.fra1.park.test");
    expect(proxyTls.seen.at(-1)).toEqual({ sni: "www.fra1.park.test", host: "www.fra1.park.test" });
  });

  it("probes a hosting customer's site through the proxy by its domain (SNI and Host), the name check on", async () => {
    const site = (domain: string): ProbeTarget => ({ ...target("edge", "proxy", `site:${domain}`, ports.proxyTls!), site: domain });
    // The stand-in proxy's certificate carries www.fra1.park.test only: a customer domain it lacks is down.
    const missing = await probeOnce(site("acme.test"), { ca: pki.ca, proxyHosts: { edge: "www.fra1.park.test" } });
    expect(missing).toMatchObject({ state: "down", reason: "tls", kind: "customer-site" });
    expect(missing.detail).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    const served = await probeOnce(site("www.fra1.park.test"), { ca: pki.ca, proxyHosts: { edge: "other.fra1.park.test" } });
    expect(served).toMatchObject({ state: "up", kind: "customer-site" });
    expect(proxyTls.seen.at(-1)).toEqual({ sni: "www.fra1.park.test", host: "www.fra1.park.test" });
  });

  it("trusts the system's roots besides the datacenter CA for a site whose certificate comes from an ACME CA, nothing else", async () => {
    const site = (domain: string): ProbeTarget => ({ ...target("edge", "proxy", `site:${domain}`, ports.proxyTls!), site: domain, acme: true });
    // Until its ACME certificate exists the proxy serves the datacenter CA's: still verified.
    expect(await probeOnce(site("www.fra1.park.test"), { ca: pki.ca })).toMatchObject({ state: "up", kind: "customer-site" });
    // Neither a name off the certificate nor a CA that is neither ours nor a system root passes.
    expect(await probeOnce(site("acme.test"), { ca: pki.ca })).toMatchObject({ state: "down", reason: "tls" });
    const other = standIn.makeCertificates(["www.fra1.park.test"]);
    expect(await probeOnce(site("www.fra1.park.test"), { ca: other.ca })).toMatchObject({ state: "down", reason: "tls" });
  });

  it("keeps the name check on: a name the proxy's certificate does not carry is down", async () => {
    // The bare domain is not on the certificate (what the probe used to send).
    const r = await probeOnce(target("edge", "proxy", "https", ports.proxyTls!), { ca: pki.ca });
    expect(r).toMatchObject({ state: "down", reason: "tls" });
    expect(r.detail).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    const other = standIn.makeCertificates(["www.fra1.park.test"]);
    const wrongCa = await probeOnce(target("edge", "proxy", "https", ports.proxyTls!), { ca: other.ca, proxyHosts: { edge: "www.fra1.park.test" } });
    expect(wrongCa).toMatchObject({ state: "down", reason: "tls" });
  });

  it("leaves no player behind in the game after the probe", async () => {
    const r = await probeOnce(target("arena", "game", "game", ports.game!));
    expect(r.state).toBe("up");
    await new Promise((done) => setTimeout(done, 100));
    expect(gameRooms()).toBe(0);
  });
});

describe("FTP with explicit TLS (RFC 4217) against a STAND-IN FTPS server", () => {
  it("greets, is told AUTH TLS 234, verifies the certificate for files.<domain>, QUITs over TLS", async () => {
    const before = ftps.commands.length;
    const r = await probeOnce(target("files", "file", "ftp", ports.ftp!), { ca: pki.ca });
    expect(r).toMatchObject({ state: "up", kind: "ftp-auth-tls" });
    expect(r.detail).toMatch(/^220, AUTH TLS 234, TLSv1\.3 verified as files\.fra1\.park\.test, QUIT 221/);
    // No login is attempted, and QUIT went over the TLS channel.
    expect(ftps.commands.slice(before)).toEqual(["AUTH TLS", "tls:QUIT"]);
  });

  it("a real client (curl --ssl-reqd) negotiates TLS with the stand-in the same way", async () => {
    if (!haveTools("curl")) return;
    const dir = mkdtempSync(join(tmpdir(), "noc-ftps-"));
    writeFileSync(join(dir, "ca.crt"), pki.ca);
    const out = await execFileP(
      "curl",
      [
        "-sv",
        "--ssl-reqd",
        "--cacert",
        join(dir, "ca.crt"),
        "--connect-to",
        `files.fra1.park.test:${ports.ftp}:127.0.0.1:${ports.ftp}`,
        `ftp://files.fra1.park.test:${ports.ftp}/`,
      ],
      {
        timeout: 20_000,
      },
    ).catch((e: { stderr: string }) => ({ stderr: e.stderr }));
    expect(out.stderr).toMatch(/AUTH TLS/);
    expect(out.stderr).toMatch(/SSL connection using TLSv1\.3/);
    expect(out.stderr).toMatch(/530 please log in/); // the stand-in stops at the login
  });

  it("a server that refuses AUTH TLS is degraded (clients would send passwords in clear)", async () => {
    const r = await probeOnce(target("files", "file", "ftp", ports.ftpNoTls!), { ca: pki.ca });
    expect(r).toMatchObject({ state: "degraded", reason: "unexpected-answer" });
    expect(r.detail).toMatch(/AUTH TLS answered 502/);
  });

  it("a certificate from another CA, or lines injected in clear after 234, are down", async () => {
    const other = standIn.makeCertificates(["files.fra1.park.test"]);
    const wrongCa = await probeOnce(target("files", "file", "ftp", ports.ftp!), { ca: other.ca });
    expect(wrongCa).toMatchObject({ state: "down", reason: "tls" });
    const injected = await probeOnce(target("files", "file", "ftp", ports.ftpInject!), { ca: pki.ca });
    expect(injected).toMatchObject({ state: "down" });
    expect(injected.detail).toMatch(/data in clear after agreeing to TLS/);
  });

  it("a service whose certificate lacks its name is down", async () => {
    const r = await probeOnce(target("ftp2", "file", "ftp", ports.ftp!), { ca: pki.ca });
    expect(r).toMatchObject({ state: "down", reason: "tls" });
    expect(r.detail).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
  });
});

describe("probes against servers that do not", () => {
  it("counts a server that never answers down when the probe times out", async () => {
    const r = await probeOnce(target("mail", "mail", "smtp", ports.silent!), { timeoutMs: 300 });
    // The probe's own timer decided it (the silent server never answers or closes).
    expect(r).toMatchObject({ state: "down", detail: "timed out after 300 ms" });
  });

  it.each([
    ["smtp", "mail", "smtp"],
    ["dns", "dns", "dns-tcp"],
    ["ssh", "file", "sftp"],
    ["postgres", "db", "postgres"],
    ["game", "game", "game"],
    ["http", "web", "http"],
    ["ftp", "file", "ftp"],
  ])("a refused %s connection is down", async (_n, role, port) => {
    const r = await probeOnce(target("x", role, port, 1));
    expect(r).toMatchObject({ state: "down", reason: "refused" });
    expect(r.detail).toMatch(/ECONNREFUSED|closed|refused/i);
  });

  it("a login refused by postgres is down, with the reason", async () => {
    const r = await probeOnce(target("db", "db", "postgres", ports.pgRefuses!), { ca: pki.ca });
    expect(r).toMatchObject({ state: "down", reason: "login-refused" });
    expect(r.detail).toMatch(/login refused as noc@postgres \(SQLSTATE 28P01/);
    expect(r.detail).not.toContain(DB_PASSWORD);
  });

  it("an HA db group's monitor is up when it answers and refuses the NOC's login, down when it does not answer", async () => {
    const monitor = (port: number): ProbeTarget => ({ ...target("db", "db", "postgres", port), replica: "db-monitor", part: "monitor" });
    const up = await probeOnce(monitor(ports.pgRefuses!), { ca: pki.ca });
    expect(up).toMatchObject({ state: "up", kind: "postgres-answers" });
    expect(up.detail).toMatch(/refused the NOC's login, as a monitor should \(noc@postgres \(SQLSTATE 28P01/);
    expect(up.detail).not.toContain(DB_PASSWORD);
    expect(await probeOnce(monitor(1), { ca: pki.ca })).toMatchObject({ state: "down", reason: "refused" });
    // Without the CA the TLS check fails closed: down, not "answers".
    expect((await probeOnce(monitor(ports.pgRefuses!), { ca: null })).state).toBe("down");
  });

  it("without the datacenter CA every TLS probe fails closed, and the database password is not sent", async () => {
    for (const [name, t] of [
      ["postgres", target("db", "db", "postgres", ports.pg!)],
      ["imaps", target("mail", "mail", "imaps", ports.imaps!)],
      ["https via proxy", target("edge", "proxy", "https", ports.proxyTls!)],
      ["ftps", target("files", "file", "ftp", ports.ftp!)],
    ] as const) {
      const r = await probeOnce(t, { ca: null, proxyHosts: { edge: "www.fra1.park.test" } });
      expect(r, name).toMatchObject({ state: "down", reason: "tls" });
      expect(r.detail, name).toMatch(/no datacenter CA/);
    }
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
      ["file", "ftp"],
    ] as const) {
      const r = await probeOnce(target("x", role, name, ports.silent!), { timeoutMs: 250 });
      expect(r, `${name}`).toMatchObject({ state: "down" });
    }
  });
});

describe("probe targets (the NOC's view, from the plan)", () => {
  const { plan } = loadPlan("local", join(__dirname, "..", ".."));
  const noc = plan.replicas.find((r) => r.role === "noc")!;
  const view = nocView(
    plan,
    noc,
    plan.services.find((s) => s.id === noc.service)!,
  );
  const mgmt = plan.networks.find((n) => n.exposure === "management")!.id;

  it("probes every service port of every replica but the NOC's own and FTP's passive data ports, on the management network", () => {
    const files = plan.replicas.find((r) => r.role === "file")!;
    expect(view.targets.filter((t) => t.replica === files.id).map((t) => `${t.replica}/${t.port.name}@${t.address}`)).toEqual([
      `${files.id}/sftp@${files.addresses[mgmt]}`,
      `${files.id}/ftp@${files.addresses[mgmt]}`,
    ]);
    const probed = new Set(view.targets.map((t) => t.replica));
    // The db group's pg_auto_failover monitor too, on its PostgreSQL port only, marked as the monitor.
    expect(view.targets.filter((t) => t.replica === "db-monitor").map((t) => [t.port.name, t.part])).toEqual([["postgres", "monitor"]]);
    expect(view.targets.filter((t) => t.part === "monitor").map((t) => t.replica)).toEqual(["db-monitor"]);
    expect([...probed].sort()).toEqual(
      plan.replicas
        .filter((r) => r.service !== noc.service)
        .map((r) => r.id)
        .sort(),
    );
    expect(view.unreachable).toEqual([]);
  });

  it("names each proxy's probe host from its certificate names", () => {
    expect(view.proxyHosts).toEqual({ edge: "www.fra1.park.test" });
  });

  it("lists every host's agent at its management address", () => {
    expect(view.hostAgents).toEqual(Object.fromEntries(plan.hosts.map((h) => [h.id, h.addresses[mgmt]])));
    expect(Object.keys(view.hostAgents)).toHaveLength(plan.hosts.length);
  });
});
