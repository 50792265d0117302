/**
 * Floods against the real file server process (images/file/src/main.ts), with its RSS
 * measured while the attack runs and a real client (lftp, OpenSSH sftp) served meanwhile:
 * - 18 MB of `HELP\r\n` before login (the finding: +1.78 GB): the connection is closed after
 *   limits.preAuthCommands commands;
 * - 18 MB of `HELP\r\n` from a logged-in FTPS session that never reads the replies: the server
 *   stops reading (backpressure) and holds a bounded amount;
 * - SFTP: thousands of pipelined READs from a client that never reads the replies, and from
 *   one that reads them but never opens its SSH window again (disconnected: ssh.ts SocketFlow).
 * Bound: the server's RSS grows by less than RSS_BOUND_MIB over its idle RSS (measured +17 to
 * +104 MiB, the high end on a machine at load 25 where garbage is collected late).
 * Ports 47600-47609.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveTools, lftp, PASSWORDS, Raw } from "../file/ftp-support";
import { sftpBatch } from "../file/support";
import { deafSocket, flood, rssMiB, sampleRss, startFileProcess, untilSettled, type FileProcess } from "./file-support";

const enabled = haveTools("lftp", "sftp", "sshpass", "openssl");
/** Growth of the server's RSS over its idle RSS that the attacks must stay under. */
const RSS_BOUND_MIB = 128;
const FLOOD_BYTES = 18 * 1024 * 1024;

describe.skipIf(!enabled)("file server under floods (real process, RSS measured)", () => {
  let server: FileProcess;
  const work = mkdtempSync(join(tmpdir(), "sp-hostile-flood-"));
  let idle = 0;

  beforeAll(async () => {
    server = await startFileProcess(47600);
    writeFileSync(join(work, "up.bin"), randomBytes(200_000));
    // Warm up both protocols once, so the idle RSS includes what any first session allocates.
    expect((await lftp(server.ports.ftp, "alice", ["put up.bin -o warm.bin"], work)).code).toBe(0);
    expect((await sftpBatch(server.ports.sftp, "alice", ["get warm.bin warm-back.bin"], work)).code).toBe(0);
    idle = rssMiB(server.child.pid!);
  }, 120_000);
  afterAll(() => void server?.child.kill("SIGKILL"));

  /** A real client's round trip while the attack runs. */
  const served = async (name: string) => {
    const r = await lftp(server.ports.ftp, "alice", [`put up.bin -o ${name}`, `get ${name} -o ${name}.back`], work);
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(join(work, `${name}.back`)).equals(readFileSync(join(work, "up.bin")))).toBe(true);
  };

  it("18 MB of HELP before login: closed after the command budget, memory bounded, lftp served", async () => {
    const rss = sampleRss(server.child.pid!);
    const socket = await deafSocket(server.ports.ftp, "127.0.0.2");
    flood(socket, "HELP\r\n", FLOOD_BYTES);
    await served("during-preauth.bin");
    const outcome = await untilSettled(socket);
    const peak = rss.stop();
    socket.destroy();
    console.log(`ftp pre-auth HELP flood: ${outcome}; RSS idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`);
    // Closed after the budget; a closing connection reads and drops the rest, so it may also take everything.
    expect(["closed", "all-sent"]).toContain(outcome);
    expect(peak - idle).toBeLessThan(RSS_BOUND_MIB);
  }, 180_000);

  it("18 MB of HELP from a logged-in FTPS session that reads no reply: reading pauses, memory bounded, lftp served", async () => {
    const raw = await Raw.open(server.ports.ftp, "127.0.0.3");
    await raw.until(/^220 /);
    raw.send("AUTH TLS\r\n");
    await raw.until(/^234 /);
    raw.socket.removeAllListeners("data");
    const secure: TLSSocket = tlsConnect({ socket: raw.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => secure.once("secureConnect", resolve).once("error", reject));
    let text = "";
    const onData = (c: Buffer) => (text += c.toString("latin1"));
    secure.on("data", onData);
    secure.write(`USER alice\r\nPASS ${PASSWORDS.alice}\r\n`);
    for (let i = 0; i < 300 && !/^230 /m.test(text); i++) await new Promise((r) => setTimeout(r, 100));
    expect(text).toMatch(/^230 /m);
    secure.off("data", onData);
    secure.pause(); // never read a reply again

    const rss = sampleRss(server.child.pid!);
    flood(secure, "HELP\r\n", FLOOD_BYTES);
    await served("during-loggedin.bin");
    const outcome = await untilSettled(secure);
    const peak = rss.stop();
    const accepted = FLOOD_BYTES - secure.writableLength;
    secure.destroy();
    console.log(
      `ftp logged-in HELP flood: ${outcome}, server took ${(accepted / 1048576).toFixed(1)} MiB; RSS idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`,
    );
    expect(outcome).toBe("stalled");
    expect(peak - idle).toBeLessThan(RSS_BOUND_MIB);
  }, 180_000);

  /** bob's SFTP session (ssh2's client, from `localAddress`) with a new 4 MiB random `name` open for reading. */
  async function openAsBob(localAddress: string, name: string) {
    writeFileSync(join(server.dataDir, "users", "bob", "files", name), randomBytes(4 * 1024 * 1024));
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once("ready", resolve).once("error", reject);
      client.connect({ host: "127.0.0.1", port: server.ports.sftp, localAddress, username: "bob", password: PASSWORDS.bob });
    });
    client.on("error", () => undefined);
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(name, "r", (e, h) => (e ? reject(e) : resolve(h))));
    return { client, sftp, handle };
  }

  it("SFTP: 20,000 pipelined 256 KiB READs whose replies are never read: memory bounded, sftp served", async () => {
    const { client, sftp, handle } = await openAsBob("127.0.0.4", "big.bin");
    // Stop reading the connection: every reply from now on stays with the server or the kernel.
    const sock = (client as unknown as { _sock: import("node:net").Socket })._sock;
    sock.pause();
    const rss = sampleRss(server.child.pid!);
    const buf = Buffer.alloc(256 * 1024);
    for (let i = 0; i < 20_000; i++) sftp.read(handle, buf, 0, buf.length, (i * 4096) % (4 * 1024 * 1024), () => undefined);
    const other = await sftpBatch(server.ports.sftp, "alice", ["get warm.bin during-sftp.bin"], work);
    expect(other.code, other.out).toBe(0);
    await untilSettled(sock);
    const peak = rss.stop();
    client.end();
    sock.destroy();
    console.log(`sftp READ flood: RSS idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`);
    expect(peak - idle).toBeLessThan(RSS_BOUND_MIB);
  }, 180_000);

  it("SFTP: READs piled up behind a window the client never opens again: disconnected, memory bounded, sftp served", async () => {
    const { client, sftp, handle } = await openAsBob("127.0.0.5", "big2.bin");
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    // Its own baseline: the RSS the earlier floods left (V8 gives memory back late).
    const before = rssMiB(server.child.pid!);
    // Read the socket, but never send WINDOW_ADJUST: the server must keep reading to see one.
    (client as unknown as { _protocol: { channelWindowAdjust(): void } })._protocol.channelWindowAdjust = () => undefined;
    const rss = sampleRss(server.child.pid!);
    const buf = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 5_000; i++) sftp.read(handle, buf, 0, buf.length, (i * 65536) % (4 * 1024 * 1024), () => undefined);
    await closed;
    const other = await sftpBatch(server.ports.sftp, "alice", ["get warm.bin during-window.bin"], work);
    expect(other.code, other.out).toBe(0);
    const peak = rss.stop();
    console.log(`sftp shut-window flood: RSS idle ${idle.toFixed(0)} MiB, before ${before.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`);
    expect(peak - before).toBeLessThan(RSS_BOUND_MIB);
  }, 180_000);
});
