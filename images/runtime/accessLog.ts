/**
 * Access logs in the NCSA combined format (what nginx and Apache write by default, and
 * what every log analyser reads), emitted as the `msg` of a JSON line so they travel with
 * the other structured logs. Written through a buffered destination: a synchronous write
 * per request would cap a busy server's throughput at the speed of its stdout.
 */
import type { IncomingMessage } from "node:http";
import { pino } from "pino";
import { createLogger, type Logger } from "./log";
import { clientAddress } from "./proxyProtocol";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `10/Oct/2000:13:55:36 +0000` */
export function clfDate(date: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())} +0000`;
}

/** Quotes a header value the way combined logs do: `"` and `\` escaped, control bytes hex-escaped. */
function quote(value: string | undefined): string {
  if (value === undefined || value === "") return '"-"';
  return `"${value.replace(/["\\]/g, "\\$&").replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}"`;
}

export function combinedLine(req: IncomingMessage, status: number, bytes: number, when = new Date()): string {
  const request = `${req.method ?? "-"} ${req.url ?? "-"} HTTP/${req.httpVersion}`;
  const referer = req.headers.referer;
  const agent = req.headers["user-agent"];
  return `${clientAddress(req.socket) ?? "-"} - - [${clfDate(when)}] ${quote(request)} ${status} ${bytes} ${quote(referer)} ${quote(agent)}`;
}

export interface AccessLog {
  /** False when logging is off: callers skip building the line (it costs more than the write). */
  readonly enabled: boolean;
  write(line: string, fields?: Record<string, unknown>): void;
  flush(): void;
}

/** An access log on stdout (buffered), or a disabled one. */
export function createAccessLog(role: string, enabled: boolean, bindings: Record<string, unknown> = {}): AccessLog {
  if (!enabled) return { enabled, write: () => undefined, flush: () => undefined };
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const log: Logger = createLogger({ role, level: "info", bindings: { ...bindings, kind: "access" }, destination });
  return {
    enabled,
    write: (line, fields) => log.info(fields ?? {}, line),
    flush: () => destination.flushSync(),
  };
}
