/**
 * FTP replies: the error a command or transfer fails with, how any error maps to a reply code,
 * and the wire form of a (possibly multi-line) reply.
 */
import { PathError } from "../paths";

/** A reply error: the transfer or command fails with this FTP code and text. */
export class FtpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The reply for an error thrown by a command: its own code, or one for a file-system error. */
export function replyOf(error: unknown): [number, string] {
  if (error instanceof FtpError) return [error.code, error.message];
  if (error instanceof PathError) return [error.message.startsWith("quota") ? 552 : 550, error.message];
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return [550, "No such file or folder"];
  if (code === "EACCES" || code === "EPERM" || code === "ELOOP") return [550, "Permission denied"];
  if (code === "EEXIST") return [550, "Already exists"];
  if (code === "ENOTEMPTY") return [550, "Folder not empty"];
  return [451, "Local error in processing"];
}

/** A reply as sent on the control connection: `code text`, or RFC 959's multi-line form; CR/LF in the text become spaces. */
export function formatReply(code: number, text: string | string[]): string {
  const lines = (Array.isArray(text) ? text : [text]).map((l) => l.replace(/[\r\n]+/g, " "));
  return lines.length === 1
    ? `${code} ${lines[0]}\r\n`
    : `${code}-${lines[0]}\r\n${lines
        .slice(1, -1)
        .map((l) => ` ${l}\r\n`)
        .join("")}${code} ${lines.at(-1)}\r\n`;
}
