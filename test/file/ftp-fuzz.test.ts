/**
 * Bad input and limits on the FTP server: more than 10,000 random and malformed command lines
 * (binary garbage, hostile paths, oversized lines, known verbs with broken arguments) before
 * and after login, bounded in time; then lftp still works over FTPS. Also the line-length
 * cap, the failed-login limit, connections per address, and the idle timeout.
 * Runs with ftp.requireTls off so the fuzzer can log in without TLS; passive ports 47320-47329
 * (47430-47439 for the sessions-per-user case's own server).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { fuzzLine, PRE_AUTH_BATCH } from "./ftp-fuzz-input";
import { haveTools, lftp, PASSWORDS, Raw, startFtpFiles, type FtpTestServer } from "./ftp-support";

const enabled = haveTools("lftp", "openssl");

describe.skipIf(!enabled)("FTP bad input and limits", () => {
  let server: FtpTestServer;
  const work = mkdtempSync(join(tmpdir(), "sp-ftp-fuzz-"));

  beforeAll(async () => {
    server = await startFtpFiles({ from: 47320, to: 47329 }, { requireTls: false, maxConnectionsPerIp: 8, maxConnectionsPerUser: 6, idleTimeoutSeconds: 3 });
  });
  afterAll(async () => {
    await server?.app.close();
  });

  it("answers an oversized line with 500 and keeps the connection", async () => {
    const raw = await Raw.open(server.port, "127.0.0.5");
    await raw.until(/^220 /);
    raw.send(`NOOP ${"y".repeat(50_000)}\r\nNOOP\r\n`);
    expect(await raw.until(/^500 Line too long/)).toBeDefined();
    expect(await raw.until(/^200 OK/)).toBeDefined();
    raw.close();
  }, 30_000);

  it("survives more than 10,000 malformed command lines, then lftp still works", async () => {
    const deadline = Date.now() + 150_000;
    let sent = 0;
    let reconnects = 0;
    // Half the lines before login (from 127.0.0.2, which the fuzzer's failed PASS lines get
    // blocked), half logged in as `tiny` (from 127.0.0.3).
    const worker = async (loggedIn: boolean) => {
      const from = loggedIn ? "127.0.0.3" : "127.0.0.2";
      let raw: Raw | undefined;
      while (sent < 10_400 && Date.now() < deadline) {
        if (!raw || raw.closed) {
          raw?.close();
          raw = await Raw.open(server.port, from);
          reconnects++;
          expect(await raw.until(/^220 /)).toBeDefined();
          if (loggedIn) {
            raw.send(`USER tiny\r\nPASS ${PASSWORDS.tiny}\r\n`);
            expect(await raw.until(/^230 /)).toBeDefined();
          }
        }
        const mark = raw.lines.length;
        // Before login a connection may send limits.preAuthCommands commands in all: one batch per connection.
        const batch = Array.from({ length: loggedIn ? 100 : PRE_AUTH_BATCH }, () => Buffer.concat([fuzzLine(loggedIn), Buffer.from("\r\n")]));
        raw.send(Buffer.concat([...batch, Buffer.from("NOOP\r\n")]));
        sent += batch.length;
        // The NOOP's reply (or the connection closed, e.g. by a fuzzed QUIT or AUTH): the server went through the batch.
        await raw.until(/^200 OK$/, 60_000, mark);
        if (!loggedIn) raw.close();
      }
      raw?.close();
    };
    await Promise.all([worker(false), worker(true), worker(true)]);
    expect(sent).toBeGreaterThanOrEqual(10_000);
    console.log(`ftp fuzz: ${sent} lines, ${reconnects} connections`);

    // A real client still works afterwards, over FTPS.
    writeFileSync(join(work, "after.txt"), "still serving\n");
    const r = await lftp(server.port, "alice", ["put after.txt", "ls", "get after.txt -o back.txt"], work);
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(join(work, "back.txt"), "utf8")).toBe("still serving\n");
    expect(readdirSync(join(server.dataDir, "users", "tiny", "tmp"))).toEqual([]);
  }, 240_000);

  it("blocks an address after repeated failed logins, even with the right password", async () => {
    const raw = await Raw.open(server.port, "127.0.0.6");
    await raw.until(/^220 /);
    for (let i = 0; i < 5; i++) raw.send(`USER alice\r\nPASS wrong-${i}\r\n`);
    for (let n = 0; n < 5; n++) await raw.until(/^530 /, 30_000, raw.lines.findLastIndex((l) => l.startsWith("530")) + 1);
    const mark = raw.lines.length;
    raw.send(`USER alice\r\nPASS ${PASSWORDS.alice}\r\n`);
    expect(await raw.until(/^(230|530) /, 30_000, mark)).toMatch(/^530 Too many failed logins/);
    raw.close();
    // Another address is not affected.
    const other = await Raw.open(server.port, "127.0.0.7");
    await other.until(/^220 /);
    other.send(`USER alice\r\nPASS ${PASSWORDS.alice}\r\n`);
    expect(await other.until(/^(230|530) /)).toMatch(/^230 /);
    other.close();
  }, 60_000);

  it("limits connections per address and closes idle ones", async () => {
    const open = await Promise.all(Array.from({ length: 8 }, () => Raw.open(server.port, "127.0.0.8")));
    for (const r of open) await r.until(/^220 /);
    const ninth = await Raw.open(server.port, "127.0.0.8");
    expect(await ninth.until(/^(220|421) /)).toMatch(/^421 Too many connections/);
    // Idle for longer than idleTimeoutSeconds (3): the server says so and closes.
    expect(await open[0]!.until(/^421 Idle timeout/, 30_000)).toBeDefined();
    expect(await open[0]!.until(/^never$/, 10_000)).toBeUndefined(); // closed
    for (const r of [...open, ninth]) r.close();
  }, 60_000);

  it("ABOR during a download answers 426, then 226, and the session goes on", async () => {
    writeFileSync(join(server.dataDir, "users", "alice", "files", "big.bin"), randomBytes(40 * 1024 * 1024));
    const raw = await Raw.open(server.port, "127.0.0.10");
    await raw.until(/^220 /);
    raw.send(`USER alice\r\nPASS ${PASSWORDS.alice}\r\nTYPE I\r\nEPSV\r\n`);
    const epsv = (await raw.until(/^229 /))!;
    const dataPort = Number(/\|\|\|(\d+)\|/.exec(epsv)![1]);
    const data = connect({ port: dataPort, host: "127.0.0.1", localAddress: "127.0.0.10" });
    data.on("error", () => undefined);
    await once(data, "connect");
    raw.send("RETR big.bin\r\n");
    await raw.until(/^150 /);
    await once(data, "data");
    data.pause(); // backpressure: the server cannot finish the 40 MB before the ABOR
    const mark = raw.lines.length;
    raw.send("ABOR\r\n");
    expect(await raw.until(/^426 /, 30_000, mark)).toBeDefined();
    const after426 = raw.lines.findIndex((l, i) => i >= mark && l.startsWith("426"));
    expect(await raw.until(/^226 /, 30_000, after426)).toBe("226 ABOR successful");
    raw.send("NOOP\r\n");
    expect(await raw.until(/^200 OK$/, 30_000, after426)).toBeDefined();
    data.destroy();
    raw.close();
  }, 60_000);

  it("limits logged-in sessions per user", async () => {
    // A server of its own with a long idle timeout: on a loaded machine six logins (scrypt each)
    // took longer than the shared server's 3 s, and the first session's idle close freed a place.
    const patient = await startFtpFiles(
      { from: 47430, to: 47439 },
      { requireTls: false, maxConnectionsPerIp: 8, maxConnectionsPerUser: 6, idleTimeoutSeconds: 120 },
    );
    onTestFinished(() => patient.app.close());
    const sessions: Raw[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await Raw.open(patient.port, `127.0.1.${i + 1}`);
      await r.until(/^220 /);
      r.send(`USER bob\r\nPASS ${PASSWORDS.bob}\r\n`);
      expect(await r.until(/^(230|421|530) /)).toMatch(/^230 /);
      sessions.push(r);
    }
    const seventh = await Raw.open(patient.port, "127.0.1.7");
    await seventh.until(/^220 /);
    seventh.send(`USER bob\r\nPASS ${PASSWORDS.bob}\r\n`);
    expect(await seventh.until(/^(230|421|530) /)).toBe("421 Too many connections for bob");
    for (const r of [...sessions, seventh]) r.close();
  }, 60_000);
});

describe.skipIf(!enabled)("FTP passive address", () => {
  let server: FtpTestServer;
  beforeAll(async () => {
    // Listening on every address: the PASV reply must name the one the client reached.
    server = await startFtpFiles({ from: 47390, to: 47392 }, { requireTls: false }, "0.0.0.0");
  });
  afterAll(async () => {
    await server?.app.close();
  });

  it("advertises the address the client connected to, never 0.0.0.0, and refuses PORT/EPRT", async () => {
    const raw = await Raw.open(server.port, "127.0.0.1", "127.0.0.9");
    await raw.until(/^220 /);
    raw.send(`USER alice\r\nPASS ${PASSWORDS.alice}\r\nPASV\r\n`);
    expect(await raw.until(/^227 /)).toMatch(/^227 Entering Passive Mode \(127,0,0,9,185,3[0-2]\)$/);
    raw.send("EPSV\r\nPORT 127,0,0,1,4,1\r\nEPRT |1|127.0.0.1|1025|\r\n");
    expect(await raw.until(/^229 /)).toMatch(/^229 Entering Extended Passive Mode \(\|\|\|4739[0-2]\|\)$/);
    await raw.until(/^502 /);
    const first = raw.lines.findIndex((l) => l.startsWith("502"));
    expect(await raw.until(/^502 /, 30_000, first + 1)).toMatch(/Active mode is not offered/);
    raw.close();
  }, 30_000);
});
