/**
 * How FTP shows a file: the `ls -l` line of LIST, the RFC 3659 facts of MLSD/MLST and the
 * timestamp of MDTM. Pure functions of a name and its Stats.
 */
import type { Stats } from "node:fs";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `ls -l` style line, the format every FTP client parses. */
export function listLine(name: string, s: Stats, owner: string): string {
  const d = s.mtime;
  const recent = Date.now() - d.getTime() < 180 * 86_400_000;
  const when = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${recent ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` : ` ${d.getUTCFullYear()}`}`;
  const mode = s.isDirectory() ? "drwx------" : "-rw-------";
  return `${mode} 1 ${owner} ${owner} ${String(s.size).padStart(12)} ${when} ${name}`;
}

/** RFC 3659 time-val (`YYYYMMDDHHMMSS`, UTC), as MDTM and the `modify` fact give it. */
export const mdtm = (d: Date) =>
  `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;

/** RFC 3659 facts of one entry; `readOnly` for the versions view. */
export function mlstFacts(name: string, s: Stats, readOnly: boolean): string {
  const modify = `modify=${mdtm(s.mtime)};`;
  if (s.isDirectory()) return `type=dir;${modify}perm=${readOnly ? "el" : "cdeflmp"}; ${name}`;
  return `type=file;size=${s.size};${modify}perm=${readOnly ? "r" : "adfrw"}; ${name}`;
}
