/**
 * The FTP fuzz input generator, shared by the unit suite (test/file/ftp-fuzz.test.ts, 10,000
 * lines) and the long runner (bench/fuzz/ftp.fuzz.ts, 100,000+): random and malformed command
 * lines — binary garbage, hostile paths, oversized lines, known verbs with broken arguments.
 */
import { randomBytes, randomInt } from "node:crypto";

/** Lines sent on one connection before login: under limits.preAuthCommands (50), NOOP included. */
export const PRE_AUTH_BATCH = 40;

const VERBS = [
  "USER", "PASS", "ACCT", "CWD", "CDUP", "SMNT", "REIN", "QUIT", "PORT", "EPRT", "TYPE", "STRU", "MODE", "RETR", "STOR", "STOU", "APPE", "ALLO",
  "REST", "RNFR", "RNTO", "ABOR", "DELE", "RMD", "MKD", "PWD", "LIST", "NLST", "SITE", "SYST", "STAT", "HELP", "NOOP", "FEAT", "OPTS", "SIZE",
  "MDTM", "MLST", "MLSD", "PBSZ", "PROT", "CCC", "XCWD", "XPWD", "XMKD", "XRMD", "LANG", "HOST",
]; // prettier-ignore
const HOSTILE = [
  "../../../../etc/passwd", "/../../..", "..", "/", "", " ", "\0", "a\0b", "%s%s%n%n", "$(id)", "`id`", "; rm -rf /", "../".repeat(300),
  "/.versions/../../../", ".versions/x/@v-1", "ä/ö/ü/😀", "\u202e", "-la", "-la ../..", "ALL", "UTF8 ON", "MLST x;y;", "1,2,3,4,5,6",
  "|1|127.0.0.1|21|", "A", "L 8", "E", "X", "99999999999999999999", "-1", "\r", "a\rb", "\xff\xf4\xff\xf2", "C", "P", "S",
]; // prettier-ignore

export function fuzzLine(loggedIn: boolean): Buffer {
  const pick = <T>(xs: readonly T[]) => xs[randomInt(xs.length)]!;
  // Transfers after PASV would wait for a data connection; AUTH would switch to TLS: the
  // logged-in fuzzer leaves those verbs out so it measures input handling, not time-outs.
  const verbs = loggedIn ? VERBS.filter((v) => !["PASV", "EPSV", "AUTH"].includes(v)) : [...VERBS, "AUTH", "PASV", "EPSV"];
  switch (randomInt(6)) {
    case 0: // binary garbage, no newline inside
      return Buffer.from([...randomBytes(randomInt(1, 300))].filter((b) => b !== 0x0a));
    case 1:
      return Buffer.from(`${pick(verbs)} ${pick(HOSTILE)}`, "utf8");
    case 2:
      return Buffer.from(`${pick(verbs).toLowerCase()}${pick(["", " ", "  ", "\t"])}${pick(HOSTILE)}${pick(HOSTILE)}`, "utf8");
    case 3: // random letters as a verb
      return Buffer.from(
        `${randomBytes(randomInt(1, 8))
          .toString("base64")
          .replace(/[^A-Za-z]/g, "X")} ${randomBytes(8).toString("hex")}`,
      );
    case 4: // oversized lines
      return Buffer.from(`${pick(verbs)} ${"x".repeat(randomInt(4_000, 20_000))}`);
    default:
      return Buffer.from(pick(verbs));
  }
}
