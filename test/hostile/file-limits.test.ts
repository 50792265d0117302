/**
 * Pre-authentication limits, idle time, connection and handle caps, and TLS versions of the
 * file role (in-process server with short timers: login within 2 s, FTP idle 4 s):
 * - FTP: the login deadline and the command budget before login, which cheap commands do not
 *   extend; a logged-in session kept "busy" with NOOP still times out; TLS 1.1 is refused.
 * - SSH: a client that never authenticates (silent, or stalling after its banner) is dropped;
 *   connections per address are capped; SFTP handles per connection are capped.
 * Other clients keep being served. Passive ports 47620-47627.
 */
import { connect, type Socket } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../images/file/src/limits";
import { curlFtps, haveTools, PASSWORDS, Raw, runClient, startFtpFiles, type FtpTestServer } from "../file/ftp-support";
import { sftpBatch } from "../file/support";

const enabled = haveTools("curl", "sftp", "sshpass", "openssl");

/** Resolves when the socket closes; false if it is still open after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once("close", () => (clearTimeout(timer), resolve(true)));
  });
}

function tcp(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** The first bytes the server sends, or "" if it closes first (at most 10 s). */
function firstBytes(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(""), 10_000);
    socket.once("data", (c: Buffer) => (clearTimeout(timer), resolve(c.toString("latin1"))));
    socket.once("close", () => (clearTimeout(timer), resolve("")));
  });
}

describe.skipIf(!enabled)("file role: pre-auth limits, idle time, caps, TLS versions", () => {
  let server: FtpTestServer;
  const work = mkdtempSync(join(tmpdir(), "sp-hostile-limits-"));

  beforeAll(async () => {
    server = await startFtpFiles({ from: 47620, to: 47627 }, { requireTls: false, idleTimeoutSeconds: 4 }, "127.0.0.1", undefined, { preAuthSeconds: 2 });
    writeFileSync(join(work, "ok.txt"), "served\n");
  });
  afterAll(async () => {
    await server?.app.close();
  });

  /** Sends NOOP every 250 ms (for at most 10 s) until the server answers 421; that line. */
  const noopUntilClosed = async (raw: Raw): Promise<string | undefined> => {
    for (let i = 0; i < 40 && !raw.closed; i++) {
      raw.send("NOOP\r\n");
      await new Promise((r) => setTimeout(r, 250));
      const closedBy = raw.lines.find((l) => l.startsWith("421"));
      if (closedBy) return closedBy;
    }
    return undefined;
  };

  it("FTP: NOOPs before login do not extend the login deadline", async () => {
    const raw = await Raw.open(server.port, "127.0.0.30");
    await raw.until(/^220 /);
    expect(await noopUntilClosed(raw)).toBe("421 Login timeout, closing the connection");
    raw.close();
  }, 30_000);

  it("FTP: at most limits.preAuthCommands commands before login, then 421 and close", async () => {
    const raw = await Raw.open(server.port, "127.0.0.31");
    await raw.until(/^220 /);
    raw.send("NOOP\r\n".repeat(DEFAULT_LIMITS.preAuthCommands + 20));
    expect(await raw.until(/^421 /)).toBe("421 Too many commands before login, closing the connection");
    expect(raw.lines.filter((l) => l === "200 OK")).toHaveLength(DEFAULT_LIMITS.preAuthCommands);
    raw.close();
    // Another client logs in and works meanwhile.
    const ok = await curlFtps(server.port, "alice", "ok.txt", ["-T", join(work, "ok.txt")]);
    expect(ok.code, ok.out).toBe(0);
  }, 30_000);

  it("FTP: a logged-in session that only sends NOOP still reaches its idle timeout", async () => {
    const raw = await Raw.open(server.port, "127.0.0.32");
    await raw.until(/^220 /);
    raw.send(`USER bob\r\nPASS ${PASSWORDS.bob}\r\n`);
    expect(await raw.until(/^230 /)).toBeDefined();
    expect(await noopUntilClosed(raw)).toBe("421 Idle timeout, closing the connection");
    raw.close();
  }, 30_000);

  it("FTPS: a TLS 1.1 client is refused, TLS 1.2 works", async () => {
    const client = (version: string) =>
      runClient("openssl", ["s_client", "-starttls", "ftp", version, "-cipher", "DEFAULT@SECLEVEL=0", "-connect", `127.0.0.1:${server.port}`], {
        input: "",
        timeoutMs: 20_000,
      });
    const old = await client("-tls1_1");
    expect(old.code, old.out).not.toBe(0);
    expect(old.out).toMatch(/alert protocol version|no protocols available|unsupported protocol|wrong version/i);
    const current = await client("-tls1_2");
    expect(current.out).toMatch(/Protocol\s*:\s*TLSv1\.2/);
  }, 60_000);

  it("SSH: a client that never authenticates is dropped at the deadline (silent, or after its banner)", async () => {
    const silent = await tcp(server.app.sftpPort, "127.0.0.33");
    const banner = await tcp(server.app.sftpPort, "127.0.0.33");
    banner.write("SSH-2.0-hostile\r\n");
    // Read (and drop) what the server sends, so its close is seen.
    for (const s of [silent, banner]) s.on("error", () => undefined).resume();
    const [a, b] = await Promise.all([closedWithin(silent, 15_000), closedWithin(banner, 15_000)]);
    expect([a, b]).toEqual([true, true]);
  }, 30_000);

  it("SSH: connections per address are capped; other addresses are served", async () => {
    const open: Socket[] = [];
    for (let i = 0; i < DEFAULT_LIMITS.sshConnectionsPerIp; i++) {
      const s = await tcp(server.app.sftpPort, "127.0.0.34");
      s.on("error", () => undefined);
      expect(await firstBytes(s)).toMatch(/^SSH-2\.0-/);
      open.push(s);
    }
    const extra = await tcp(server.app.sftpPort, "127.0.0.34");
    extra.on("error", () => undefined);
    expect(await firstBytes(extra)).toBe("");
    const other = await sftpBatch(server.app.sftpPort, "alice", ["ls"]);
    expect(other.code, other.out).toBe(0);
    for (const s of [...open, extra]) s.destroy();
  }, 60_000);

  it("SFTP: open handles per connection are capped; another client is served meanwhile", async () => {
    writeFileSync(join(server.dataDir, "users", "bob", "files", "h.txt"), "handle\n");
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once("ready", resolve).once("error", reject);
      client.connect({ host: "127.0.0.1", port: server.app.sftpPort, localAddress: "127.0.0.35", username: "bob", password: PASSWORDS.bob });
    });
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));
    const results = await Promise.all(
      Array.from({ length: 200 }, () => new Promise<string>((resolve) => sftp.open("h.txt", "r", (e) => resolve(e ? (e.message ?? "error") : "ok")))),
    );
    expect(results.filter((r) => r === "ok")).toHaveLength(DEFAULT_LIMITS.sftpHandles);
    expect(results.filter((r) => r !== "ok").every((r) => /too many open handles/.test(r))).toBe(true);
    const other = await sftpBatch(server.app.sftpPort, "alice", ["ls"]);
    expect(other.code, other.out).toBe(0);
    client.end();
  }, 60_000);
});
