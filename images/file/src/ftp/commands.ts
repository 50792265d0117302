/**
 * The FTP command table: one handler per verb (aliases such as XPWD share one), the commands
 * allowed before login, FEAT and HELP, and `dispatch`, which parses a command line, applies
 * what every command shares (REST and RNFR last only until the next command; login first) and
 * runs the handler. Transfers live in transfers.ts, the data channel in data-channel.ts.
 */
import { stat } from "node:fs/promises";
import { mdtm, mlstFacts } from "./format";
import { FtpError } from "./replies";
import type { Session } from "./session";
import { listLines, retrieve, sendListing, store } from "./transfers";

const FEATURES = ["AUTH TLS", "PBSZ", "PROT", "UTF8", "SIZE", "MDTM", "REST STREAM", "MLST type*;size*;modify*;perm*;", "EPSV", "PASV", "TVFS"];
const HELP =
  "ABOR APPE AUTH CDUP CWD DELE EPSV FEAT HELP LIST MDTM MKD MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PROT PWD QUIT REST RETR RMD RNFR RNTO SIZE STAT STOR STRU SYST TYPE USER XCUP XCWD XMKD XPWD XRMD";
/** Commands a client may send before logging in. */
const BEFORE_LOGIN = new Set(["AUTH", "PBSZ", "PROT", "FEAT", "OPTS", "SYST", "NOOP", "QUIT", "HELP", "USER", "PASS", "STAT"]);

/**
 * A command's handler. `arg` is everything after the first space; `rest` is the REST offset
 * that was in force for this command. A thrown error becomes the reply (replies.ts).
 */
type Handler = (s: Session, arg: string, verb: string, rest: number) => void | Promise<void>;

/**
 * Commands that do work for a logged-in user: only these extend the idle timeout, so a flood
 * of NOOP, HELP, FEAT (or unknown verbs) keeps no connection open.
 */
const WORK = new Set([
  "USER", "PASS", "AUTH", "CWD", "XCWD", "CDUP", "XCUP", "MKD", "XMKD", "RMD", "XRMD", "SIZE", "MDTM", "MLST", "LIST", "NLST", "MLSD",
  "RETR", "STOR", "APPE", "DELE", "RNFR", "RNTO", "PASV", "EPSV", "REST",
]); // prettier-ignore

export function resetsIdle(line: string): boolean {
  const space = line.indexOf(" ");
  return WORK.has((space < 0 ? line : line.slice(0, space)).toUpperCase());
}

/** Parses one command line and runs its handler. */
export async function dispatch(s: Session, line: string): Promise<void> {
  const space = line.indexOf(" ");
  const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  const arg = space < 0 ? "" : line.slice(space + 1);
  if (!/^[A-Z]{3,4}$/.test(verb)) throw new FtpError(500, "Syntax error, command unrecognized");
  const rest = s.restOffset;
  if (verb !== "REST") s.restOffset = 0;
  if (verb !== "RNTO") {
    const from = s.renameFrom;
    s.renameFrom = undefined;
    if (verb === "RNFR") s.renameFrom = from;
  }
  if (!s.tree && !BEFORE_LOGIN.has(verb)) throw new FtpError(530, "Please log in with USER and PASS");
  const handler = Object.hasOwn(HANDLERS, verb) ? HANDLERS[verb] : undefined;
  if (!handler) throw new FtpError(502, "Command not implemented");
  return handler(s, arg, verb, rest);
}

function protection(s: Session, arg: string): void {
  const level = arg.trim().toUpperCase();
  if (!s.secure) throw new FtpError(503, "PROT needs AUTH TLS first");
  if (!s.pbsz) throw new FtpError(503, "PROT needs PBSZ first");
  if (level === "P") {
    s.protPrivate = true;
    return s.reply(200, "Protection level set to Private");
  }
  // Once the control connection is encrypted, clear data would leak the files it protects.
  if (level === "C") throw new FtpError(534, "Data connections must be protected on a TLS session: use PROT P");
  if (level === "S" || level === "E") throw new FtpError(536, "Only PROT P is supported");
  throw new FtpError(504, "Unknown protection level");
}

function user(s: Session, arg: string): void {
  if (s.tree) throw new FtpError(503, "Already logged in");
  if (s.deps.settings.requireTls && !s.secure) throw new FtpError(530, "TLS required: send AUTH TLS before USER");
  const name = arg.trim();
  if (!name) throw new FtpError(501, "USER needs a name");
  s.userName = name;
  s.reply(331, "Password required");
}

async function pass(s: Session, arg: string): Promise<void> {
  if (s.tree) throw new FtpError(503, "Already logged in");
  if (s.userName === undefined) throw new FtpError(503, "Send USER first");
  const name = s.userName;
  s.userName = undefined;
  const result = await s.deps.auth.login(s.clientIp, name, arg);
  if (!result.ok) {
    throw new FtpError(530, result.reason === "blocked" ? "Too many failed logins from your address; try again later" : "Login incorrect");
  }
  const tree = s.deps.trees.get(result.user);
  if (!tree) throw new FtpError(530, "Login incorrect");
  if (!s.admit(result.user)) {
    s.reply(421, `Too many connections for ${result.user}`);
    return s.end();
  }
  s.tree = tree;
  s.userName = result.user;
  s.reply(230, "Logged in");
}

async function status(s: Session, arg: string): Promise<void> {
  if (!arg.trim()) {
    return s.reply(211, [
      "Serverpark FTP status",
      `Connected from ${s.clientIp}`,
      s.tree ? `Logged in as ${s.userName}` : "Not logged in",
      `TLS ${s.secure ? "on" : "off"}, data ${s.protPrivate ? "private" : "clear"}`,
      s.transfer ? `Transferring, ${s.transfer.bytes} bytes so far` : "No transfer",
      "End of status",
    ]);
  }
  if (!s.tree) throw new FtpError(530, "Please log in with USER and PASS");
  const lines = await listLines(s, "LIST", arg);
  s.reply(213, ["Status follows:", ...lines, "End of status"]);
}

async function changeFolder(s: Session, arg: string): Promise<void> {
  const { vpath, real } = s.resolve(arg || "/", false);
  await s.tree!.confine(real);
  if (!(await stat(real)).isDirectory()) throw new FtpError(550, "Not a folder");
  s.cwd = vpath;
  s.reply(250, `Folder changed to ${vpath}`);
}

const printFolder: Handler = (s) => s.reply(257, `"${s.cwd.replace(/"/g, '""')}" is the current folder`);

async function sizeOrTime(s: Session, arg: string, verb: string): Promise<void> {
  const { real } = s.resolve(arg, false);
  await s.tree!.confine(real);
  const st = await stat(real);
  if (!st.isFile()) throw new FtpError(550, "Not a file");
  return s.reply(213, verb === "SIZE" ? String(st.size) : mdtm(st.mtime));
}

async function makeFolder(s: Session, arg: string): Promise<void> {
  const { rel, vpath } = s.resolve(arg, true);
  if (rel === "") throw new FtpError(550, "The root folder exists");
  await s.tree!.makeDir(rel);
  s.reply(257, `"${vpath.replace(/"/g, '""')}" created`);
}

async function removeFolder(s: Session, arg: string): Promise<void> {
  const { rel } = s.resolve(arg, true);
  await s.tree!.removeDir(rel);
  s.reply(250, "Folder removed");
}

const activeMode: Handler = () => {
  // Active mode would dial out from the private network to an address the client names.
  throw new FtpError(502, "Active mode is not offered: use PASV or EPSV");
};

const listing: Handler = (s, arg, verb) => sendListing(s, verb as "LIST" | "NLST" | "MLSD", arg);

const HANDLERS: Readonly<Record<string, Handler>> = {
  // Security (RFC 2228, RFC 4217)
  AUTH: (s, arg) => s.startTls(arg),
  PBSZ: (s) => {
    if (!s.secure) throw new FtpError(503, "PBSZ needs AUTH TLS first");
    s.pbsz = true;
    s.reply(200, "PBSZ=0");
  },
  PROT: protection,
  CCC: () => {
    throw new FtpError(534, "The control connection stays encrypted");
  },
  // Login and the session
  USER: user,
  PASS: pass,
  QUIT: (s) => {
    s.reply(221, "Goodbye");
    s.end();
  },
  NOOP: (s) => s.reply(200, "OK"),
  SYST: (s) => s.reply(215, "UNIX Type: L8"),
  FEAT: (s) => s.reply(211, ["Features:", ...FEATURES, "End"]),
  OPTS: (s, arg) => {
    const [name = "", value = ""] = arg.trim().toUpperCase().split(/\s+/);
    if (name === "UTF8" && (value === "ON" || value === "")) return s.reply(200, "UTF8 is always on");
    if (name === "MLST") return s.reply(200, "MLST OPTS type;size;modify;perm;");
    throw new FtpError(501, "Option not understood");
  },
  HELP: (s) => s.reply(214, ["Commands understood:", ...HELP.match(/(\S+ ?){1,12}/g)!.map((l) => l.trim()), "Active mode (PORT, EPRT) is not offered"]),
  STAT: status,
  // Transfer parameters: only what every client uses
  TYPE: (s, arg) => {
    const t = arg.trim().toUpperCase();
    if (["A", "A N", "I", "L 8"].includes(t)) return s.reply(200, `Type set to ${t}`);
    throw new FtpError(504, "Type not supported");
  },
  MODE: (s, arg) => {
    if (arg.trim().toUpperCase() === "S") return s.reply(200, "Mode set to S");
    throw new FtpError(504, "Only stream mode is supported");
  },
  STRU: (s, arg) => {
    if (arg.trim().toUpperCase() === "F") return s.reply(200, "Structure set to F");
    throw new FtpError(504, "Only file structure is supported");
  },
  ALLO: (s) => s.reply(202, "No storage allocation necessary"),
  // The data channel: passive only
  PORT: activeMode,
  EPRT: activeMode,
  LPRT: activeMode,
  PASV: (s, arg) => s.reply(...s.channel.enterPassive(false, arg)),
  EPSV: (s, arg) => s.reply(...s.channel.enterPassive(true, arg)),
  ABOR: (s) => {
    // A running transfer is aborted as soon as ABOR arrives (session.ts); this is ABOR without one.
    s.channel.drop();
    s.reply(225, "No transfer to abort");
  },
  // Folders
  PWD: printFolder,
  XPWD: printFolder,
  CWD: changeFolder,
  XCWD: changeFolder,
  CDUP: (s) => changeFolder(s, ".."),
  XCUP: (s) => changeFolder(s, ".."),
  MKD: makeFolder,
  XMKD: makeFolder,
  RMD: removeFolder,
  XRMD: removeFolder,
  // Files
  SIZE: sizeOrTime,
  MDTM: sizeOrTime,
  MLST: async (s, arg) => {
    const { real, vpath, versions } = s.resolve(arg || ".", false);
    await s.tree!.confine(real);
    const st = await stat(real);
    s.reply(250, ["Listing", mlstFacts(vpath, st, versions), "End"]);
  },
  LIST: listing,
  NLST: listing,
  MLSD: listing,
  REST: (s, arg) => {
    if (!/^\d{1,15}$/.test(arg.trim())) throw new FtpError(501, "REST needs a byte offset");
    s.restOffset = Number(arg.trim());
    s.reply(350, `Restarting at ${s.restOffset}`);
  },
  RETR: (s, arg, _verb, rest) => retrieve(s, arg, rest),
  STOR: (s, arg, _verb, rest) => store(s, arg, false, rest),
  APPE: (s, arg, _verb, rest) => store(s, arg, true, rest),
  DELE: async (s, arg) => {
    const { rel } = s.resolve(arg, true);
    await s.tree!.remove(rel);
    s.reply(250, "Deleted (the content is kept as a version)");
  },
  RNFR: async (s, arg) => {
    const { rel } = s.resolve(arg, true);
    if (rel === "") throw new FtpError(550, "Cannot rename the root folder");
    if (!(await s.tree!.confineWrite(rel))) throw new FtpError(550, "No such file or folder");
    s.renameFrom = rel;
    s.reply(350, "Ready for RNTO");
  },
  RNTO: async (s, arg) => {
    const from = s.renameFrom;
    s.renameFrom = undefined;
    if (from === undefined) throw new FtpError(503, "RNFR first");
    const { rel } = s.resolve(arg, true);
    if (rel === "") throw new FtpError(553, "Bad target name");
    await s.tree!.renamePath(from, rel);
    s.reply(250, "Renamed");
  },
};
