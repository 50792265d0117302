/**
 * `tsx bench/fuzz/sftp.fuzz.ts <count>`: the SFTP packet layer of the real file server process,
 * after authentication: ssh2's client opens the `sftp` subsystem as a raw channel and we write
 * our own SFTP packets on it — INIT, then `count` generated requests (every request type, with
 * random, truncated or oversized fields, hostile paths, unknown handles, random bytes), each
 * batch closed by a REALPATH whose NAME reply must come within 60 s (else a hang). A channel
 * the server closes (e.g. on a malformed packet) is reopened. Contract: bench/fuzz/run.ts.
 */
import { randomBytes, randomInt } from "node:crypto";
import ssh2 from "ssh2";
import { PASSWORDS } from "../../test/file/ftp-support";
import { startFuzzRun } from "./file-fuzz-support";

const RSS_BOUND_MIB = 256;
const PATHS = ["/", ".", "..", "../../../etc/passwd", "/.versions", "/.versions/../..", "a\0b", "ä/😀", "x".repeat(5000), "", "/tmp", "f.bin", "d/"];

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const str = (s: string | Buffer) => {
  const b = typeof s === "string" ? Buffer.from(s) : s;
  return Buffer.concat([u32(b.length), b]);
};
const pick = <T>(xs: readonly T[]) => xs[randomInt(xs.length)]!;
const field = (): Buffer => {
  switch (randomInt(6)) {
    case 0:
      return str(pick(PATHS));
    case 1:
      return u32(randomInt(0x100000000));
    case 2:
      return str(randomBytes(randomInt(0, 8))); // a handle, mostly unknown
    case 3:
      return randomBytes(randomInt(0, 40));
    case 4:
      return u32(0xffffffff); // a length or flag field that claims everything
    default:
      return Buffer.concat([u32(randomInt(16)), u32(randomInt(1 << 20))]);
  }
};

/** One SFTP packet: length, a request type (3-20, or anything), an id, then random fields. */
function fuzzPacket(id: number): Buffer {
  const type = randomInt(10) === 0 ? randomInt(256) : randomInt(3, 21);
  const body = Buffer.concat([Buffer.from([type]), u32(id), ...Array.from({ length: randomInt(0, 5) }, field)]);
  return Buffer.concat([u32(body.length), body]);
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 100_000);
  const run = await startFuzzRun(47720, RSS_BOUND_MIB);
  const port = run.server.ports.sftp;
  let sent = 0;
  let hangs = 0;
  const worker = async (localAddress: string) => {
    while (sent < count && !run.crashed()) {
      const client = new ssh2.Client();
      client.on("error", () => undefined);
      const ready = await new Promise<boolean>((resolve) => {
        // Refused (e.g. over the per-address cap, closed before the banner): try again.
        client
          .once("ready", () => resolve(true))
          .once("error", () => resolve(false))
          .once("close", () => resolve(false));
        client.connect({ host: "127.0.0.1", port, localAddress, username: "bob", password: PASSWORDS.bob, readyTimeout: 60_000 });
      });
      if (!ready) continue;
      const channel = await new Promise<import("ssh2").ClientChannel | undefined>((resolve) => client.subsys("sftp", (e, c) => resolve(e ? undefined : c)));
      if (!channel) {
        client.end();
        continue;
      }
      let inbox = Buffer.alloc(0);
      let closed = false;
      let wake: (() => void) | undefined;
      const seen = new Set<number>();
      channel.on("data", (chunk: Buffer) => {
        inbox = Buffer.concat([inbox, chunk]);
        while (inbox.length >= 9 && inbox.length >= 4 + inbox.readUInt32BE(0)) {
          const len = inbox.readUInt32BE(0);
          if (inbox[4] === 104) seen.add(inbox.readUInt32BE(5)); // NAME
          inbox = inbox.subarray(4 + len);
        }
        wake?.();
      });
      channel.on("close", () => ((closed = true), wake?.()));
      channel.write(Buffer.concat([u32(5), Buffer.from([1]), u32(3)])); // INIT v3
      for (let marker = 1_000_000_000; sent < count && !closed && !run.crashed(); marker++) {
        const batch = Array.from({ length: 100 }, (_, i) => fuzzPacket(i));
        const probe = Buffer.concat([Buffer.from([16]), u32(marker), str("/")]); // REALPATH "/"
        channel.write(Buffer.concat([...batch, u32(probe.length), probe]));
        sent += batch.length;
        const deadline = Date.now() + 60_000;
        while (!seen.has(marker) && !closed && Date.now() < deadline) await new Promise<void>((r) => ((wake = r), setTimeout(r, 500)));
        if (!seen.has(marker) && !closed) {
          hangs++;
          break;
        }
        if (sent % 10_000 < batch.length) console.error(`sftp fuzz: ${sent} packets`);
      }
      client.end();
    }
  };
  await Promise.all(["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"].map(worker));
  run.finish({ protocol: "sftp", inputs: sent, hangs });
}

void main();
