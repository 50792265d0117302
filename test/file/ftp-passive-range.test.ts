/**
 * The file server's passive range moved by its variable (FTP_PASSIVE_PORTS_ENV), as the Docker
 * target moves it onto the host ports it allocated for the stack (components/targets/docker/hostPorts.ts):
 * the real server process (images/file/src/main.ts) with a range other than the default, and
 * lftp over explicit FTPS in passive mode, once with PASV and once with EPSV. Every 227/229
 * reply lftp read names a port of that range, and the transfers carry the bytes.
 * Ports 47440 (FTP), 47441 (SFTP), 47442 (management), passive 47444-47447.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FTP_PASSIVE_PORTS, FTP_PASSIVE_PORTS_ENV } from "../../contracts/roles";
import { makeCert } from "../mail/support";
import { haveTools, lftp } from "./ftp-support";
import { standaloneFileEnv, startServer } from "./server-process";

const enabled = haveTools("lftp", "openssl");
const PORTS = { ftp: 47440, sftp: 47441, mgmt: 47442 };
const RANGE = { from: 47444, to: 47447 };

/** The ports the passive replies in lftp's debug output name: `227 … (h1,h2,h3,h4,p1,p2)` and `229 … (|||port|)`. */
function passiveReplies(out: string): { pasv: number[]; epsv: number[] } {
  const pasv = [...out.matchAll(/<--- 227 [^(]*\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/g)].map((m) => Number(m[5]) * 256 + Number(m[6]));
  const epsv = [...out.matchAll(/<--- 229 [^(]*\(\|\|\|(\d+)\|\)/g)].map((m) => Number(m[1]));
  return { pasv, epsv };
}

describe.skipIf(!enabled)("FTPS passive transfers on a moved passive range (lftp)", () => {
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "sp-ftp-range-"));

  beforeAll(async () => {
    expect(RANGE.from).not.toBe(FTP_PASSIVE_PORTS.from);
    const { cert, key } = await makeCert("file.test.example");
    child = await startServer(
      {
        ...standaloneFileEnv(dir, PORTS.mgmt),
        SP_FILE_SFTP_PORT: String(PORTS.sftp),
        SP_FILE_FTP_PORT: String(PORTS.ftp),
        [FTP_PASSIVE_PORTS_ENV]: `${RANGE.from}-${RANGE.to}`,
        SP_TLS_CERT: cert,
        SP_TLS_KEY: key,
      },
      PORTS.mgmt,
    );
  }, 60_000);
  afterAll(() => void child?.kill("SIGKILL"));

  it.each([
    ["PASV", "no", "pasv"],
    ["EPSV", "yes", "epsv"],
  ] as const)(
    "uploads, lists and downloads with %s, each reply naming a port of the range",
    async (verb, preferEpsv, kind) => {
      const content = randomBytes(200_000);
      writeFileSync(join(dir, `up-${verb}.bin`), content);
      const r = await lftp(
        PORTS.ftp,
        "alice",
        [
          "debug 5",
          "set ftp:passive-mode true",
          `set ftp:prefer-epsv ${preferEpsv}`,
          `put ${join(dir, `up-${verb}.bin`)} -o ${verb}.bin`,
          "cls -l",
          `get ${verb}.bin -o ${join(dir, `down-${verb}.bin`)}`,
        ],
        dir,
      );
      expect(r.code, r.out).toBe(0);
      expect(readFileSync(join(dir, "data", "users", "alice", "files", `${verb}.bin`)).equals(content)).toBe(true);
      expect(readFileSync(join(dir, `down-${verb}.bin`)).equals(content)).toBe(true);
      const replies = passiveReplies(r.out);
      // Three data connections (put, cls, get), each opened by the verb under test.
      expect(replies[kind].length, r.out).toBeGreaterThanOrEqual(3);
      expect(replies[kind === "pasv" ? "epsv" : "pasv"]).toEqual([]);
      for (const port of replies[kind]) {
        expect(port).toBeGreaterThanOrEqual(RANGE.from);
        expect(port).toBeLessThanOrEqual(RANGE.to);
      }
    },
    120_000,
  );
});
