/**
 * FTP passive mode (images/file/src/passive.ts): which address a PASV reply names — the
 * control socket's own address, or behind NAT (the Hetzner target) the replica's planned
 * address on the client's network — and the per-user and per-address caps on passive port
 * reservations, so one user opening many sessions cannot hog every port.
 * Passive ports 47330-47339 (caps) and 47350-47352 (address).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { choosePassiveAddress, PassivePorts, passiveCap, type PassiveOwner } from "../../images/file/src/passive";
import { createLogger } from "../../images/runtime/log";
import { curlFtps, haveTools, PASSWORDS, Raw, runClient, startFtpFiles, type FtpTestServer } from "./ftp-support";

const HETZNER = {
  addresses: { private: "10.42.1.17", mgmt: "10.42.2.24" },
  networks: { private: "10.42.1.0/24", mgmt: "10.42.2.0/24" },
};

describe("choosePassiveAddress", () => {
  it.each([
    // Local Docker target: the container owns its planned addresses.
    ["10.42.1.17", "10.42.1.50", HETZNER, { address: "10.42.1.17", via: "local" }],
    ["10.42.2.24", "10.42.1.50", HETZNER, { address: "10.42.2.24", via: "local" }],
    ["::ffff:10.42.2.24", "::ffff:10.42.2.9", HETZNER, { address: "10.42.2.24", via: "local" }],
    // Hetzner target: behind Docker's NAT, the client's network picks the planned address.
    ["172.17.0.2", "10.42.1.50", HETZNER, { address: "10.42.1.17", via: "network", network: "private" }],
    ["172.17.0.2", "10.42.2.9", HETZNER, { address: "10.42.2.24", via: "network", network: "mgmt" }],
    ["::ffff:172.17.0.2", "::ffff:10.42.2.9", HETZNER, { address: "10.42.2.24", via: "network", network: "mgmt" }],
    // A client on none of the networks: the local address is all there is.
    ["172.17.0.2", "192.0.2.7", HETZNER, { address: "172.17.0.2", via: "fallback" }],
    ["172.17.0.2", "10.42.3.1", HETZNER, { address: "172.17.0.2", via: "fallback" }],
    // A network without an address of ours, or a CIDR that is not one, holds nobody.
    ["172.17.0.2", "10.42.1.50", { addresses: { mgmt: "10.42.2.24" }, networks: HETZNER.networks }, { address: "172.17.0.2", via: "fallback" }],
    ["172.17.0.2", "10.42.1.50", { addresses: HETZNER.addresses, networks: { private: "10.42.1.0/99" } }, { address: "172.17.0.2", via: "fallback" }],
    ["172.17.0.2", "not-an-ip", HETZNER, { address: "172.17.0.2", via: "fallback" }],
    // No plan (a bare docker run, tests): the local address, no warning.
    ["127.0.0.1", "127.0.0.1", undefined, { address: "127.0.0.1", via: "unplanned" }],
    ["127.0.0.1", "127.0.0.1", { addresses: {}, networks: {} }, { address: "127.0.0.1", via: "unplanned" }],
    // The test set-up below: 127.0.0.2 planned on a 127.0.0.0/8 "network", the socket on 127.0.0.1.
    ["127.0.0.1", "127.0.0.1", { addresses: { lo: "127.0.0.2" }, networks: { lo: "127.0.0.0/8" } }, { address: "127.0.0.2", via: "network", network: "lo" }],
  ] as const)("local %s, client %s, plan %j", (local, client, planned, expected) => {
    expect(choosePassiveAddress(local, client, planned)).toEqual(expected);
  });

  it("warns once when it can only name the local address", () => {
    const lines: string[] = [];
    const log = createLogger({ role: "file", level: "warn", destination: { write: (l: string) => void lines.push(l) } });
    const ports = new PassivePorts([1], log, HETZNER);
    expect(ports.addressFor("172.17.0.2", "192.0.2.7")).toBe("172.17.0.2");
    expect(ports.addressFor("172.17.0.2", "192.0.2.8")).toBe("172.17.0.2");
    expect(ports.addressFor("172.17.0.2", "10.42.1.5")).toBe("10.42.1.17");
    expect(lines.filter((l) => l.includes("ftp PASV"))).toHaveLength(1);
  });
});

describe("passive port reservations", () => {
  const owner = (user: string, clientIp: string): PassiveOwner => ({ user, clientIp, dataArrived: () => undefined });
  const log = createLogger({ role: "file", level: "silent" });

  it("caps each user and each client address at half the range, at least one", () => {
    expect([1, 2, 3, 10, 11].map(passiveCap)).toEqual([1, 1, 1, 5, 5]);
    const ports = new PassivePorts<PassiveOwner>([30000, 30001, 30002, 30003, 30004, 30005, 30006, 30007, 30008, 30009], log);
    const hog = Array.from({ length: 6 }, (_, i) => owner("alice", `10.0.0.${i + 1}`));
    expect(hog.slice(0, 5).map((o) => ports.reserve(o).ok)).toEqual([true, true, true, true, true]);
    expect(ports.reserve(hog[5]!)).toEqual({ ok: false, reason: "user", limit: 5 });
    // A session re-sending PASV gives up its own reservation first: never counted twice.
    expect(ports.reserve(hog[0]!).ok).toBe(true);
    // Others still get the other half.
    const crowd = Array.from({ length: 6 }, (_, i) => owner(`u${i}`, "10.0.9.9"));
    expect(crowd.slice(0, 5).map((o) => ports.reserve(o).ok)).toEqual([true, true, true, true, true]);
    expect(ports.reserve(crowd[5]!)).toEqual({ ok: false, reason: "address", limit: 5 });
    expect(ports.reserve(owner("carol", "10.0.8.8"))).toEqual({ ok: false, reason: "full", limit: 10 });
    ports.release(hog[1]!);
    expect(ports.reserve(hog[5]!).ok).toBe(true);
  });
});

const enabled = haveTools("curl", "lftp", "openssl");

describe.skipIf(!enabled)("PASV behind NAT: the planned address on the client's network", () => {
  let server: FtpTestServer;
  const work = mkdtempSync(join(tmpdir(), "sp-ftp-nat-"));
  const data = randomBytes(300_000);

  beforeAll(async () => {
    // Like a container behind `docker run --publish`: the server listens on every address and
    // the client reaches it on 127.0.0.1, but the replica's planned address is 127.0.0.2 on a
    // 127.0.0.0/8 network. 127.0.0.2 is loopback too, so the advertised address must work.
    server = await startFtpFiles({ from: 47350, to: 47352 }, {}, "0.0.0.0", { addresses: { lo: "127.0.0.2" }, networks: { lo: "127.0.0.0/8" } });
    writeFileSync(join(work, "nat.bin"), data);
  });
  afterAll(async () => {
    await server?.app.close();
  });

  it("curl (PASV, using its address) uploads and downloads through 127.0.0.2", async () => {
    // --disable-epsv: PASV; --no-ftp-skip-pasv-ip: connect where the 227 says, not to the control address.
    const extra = ["-v", "--disable-epsv", "--no-ftp-skip-pasv-ip"];
    const up = await curlFtps(server.port, "alice", "nat.bin", [...extra, "-T", join(work, "nat.bin")]);
    expect(up.code, up.out).toBe(0);
    expect(up.out).toMatch(/< 227 Entering Passive Mode \(127,0,0,2,184,24[6-8]\)/);
    expect(up.out).toMatch(/Connecting to 127\.0\.0\.2 \(127\.0\.0\.2\) port 4735[0-2]/);
    const down = await curlFtps(server.port, "alice", "nat.bin", extra);
    expect(down.code, down.out).toBe(0);
    expect(down.stdout.equals(data)).toBe(true);
  }, 60_000);

  it("lftp (PASV) is told 127.0.0.2 and transfers", async () => {
    // lftp 4.9 replaces any PASV address it deems reserved (loopback included) by the control
    // connection's peer, whatever ftp:fix-pasv-address says, so on loopback it cannot show that
    // it follows the address (curl above does); this checks it reads the reply and works.
    const r = await runClient("lftp", [
      "-d",
      "-c",
      [
        "set ftp:ssl-force true",
        "set ftp:ssl-protect-data true",
        "set ssl:verify-certificate no",
        "set ftp:prefer-epsv no",
        "set net:max-retries 1",
        "set net:timeout 20",
        "set cmd:fail-exit true",
        `open -u alice,${PASSWORDS.alice} -p ${server.port} ftp://127.0.0.1`,
        "ls",
        `get nat.bin -o ${join(work, "lftp.bin")}`,
      ].join("\n"),
    ]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/<--- 227 Entering Passive Mode \(127,0,0,2,184,24[6-8]\)/);
    expect(r.out).toMatch(/^-rw------- 1 alice alice +300000 .* nat\.bin$/m);
    const got = await runClient("cmp", [join(work, "nat.bin"), join(work, "lftp.bin")]);
    expect(got.code, got.out).toBe(0);
  }, 60_000);
});

describe.skipIf(!enabled)("passive ports cannot be hogged", () => {
  let server: FtpTestServer;
  const work = mkdtempSync(join(tmpdir(), "sp-ftp-hog-"));
  const opened: Raw[] = [];

  /** A raw session logged in as `user` from `from` that sends PASV and never connects; resolves with the PASV reply. */
  async function hog(user: keyof typeof PASSWORDS, from: string): Promise<string | undefined> {
    const raw = await Raw.open(server.port, from);
    opened.push(raw);
    await raw.until(/^220 /);
    raw.send(`USER ${user}\r\nPASS ${PASSWORDS[user]}\r\n`);
    expect(await raw.until(/^(230|421|530) /)).toMatch(/^230 /);
    raw.send("PASV\r\n");
    return raw.until(/^(227|425) /);
  }
  const closeAll = () => opened.splice(0).forEach((r) => r.close());

  beforeAll(async () => {
    // requireTls off so the raw hogging side needs no TLS; the victims use curl over FTPS.
    server = await startFtpFiles({ from: 47330, to: 47339 }, { requireTls: false });
    writeFileSync(join(work, "v.txt"), "victim's file\n");
    for (const user of ["alice", "bob"] as const) {
      const up = await curlFtps(server.port, user, "v.txt", ["-T", join(work, "v.txt")]);
      expect(up.code, up.out).toBe(0);
    }
  });
  afterAll(async () => {
    closeAll();
    await server?.app.close();
  });

  it("one user holds at most half the ports, from any number of addresses; another user still downloads", async () => {
    try {
      const replies: (string | undefined)[] = [];
      for (let i = 1; i <= 6; i++) replies.push(await hog("alice", `127.0.3.${i}`));
      expect(replies.slice(0, 5).every((r) => r?.startsWith("227 "))).toBe(true);
      expect(replies[5]).toBe("425 Too many open data connections for alice (at most 5); try again shortly");
      const victim = await curlFtps(server.port, "bob", "v.txt");
      expect(victim.code, victim.out).toBe(0);
      expect(victim.stdout.toString()).toBe("victim's file\n");
      // The hogging user's own transfer is refused too, with the code curl reports as such.
      const self = await curlFtps(server.port, "alice", "v.txt");
      expect(self.code, self.out).not.toBe(0);
      expect(self.out).toMatch(/425|EPSV|PASV/);
    } finally {
      closeAll();
    }
    // Closed sessions give their ports back.
    await expect.poll(async () => (await curlFtps(server.port, "alice", "v.txt")).code, { timeout: 10_000 }).toBe(0);
  }, 60_000);

  it("one client address holds at most half the ports across users; a client elsewhere still downloads", async () => {
    try {
      const replies: (string | undefined)[] = [];
      for (const user of ["alice", "bob", "alice", "bob", "alice", "bob"] as const) replies.push(await hog(user, "127.0.4.1"));
      expect(replies.slice(0, 5).every((r) => r?.startsWith("227 "))).toBe(true);
      expect(replies[5]).toBe("425 Too many open data connections from your address (at most 5); try again shortly");
      // alice holds 3 there, under her cap: from 127.0.0.1 she still gets a port.
      const victim = await curlFtps(server.port, "alice", "v.txt");
      expect(victim.code, victim.out).toBe(0);
      expect(victim.stdout.toString()).toBe("victim's file\n");
    } finally {
      closeAll();
    }
  }, 60_000);
});
