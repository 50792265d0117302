/**
 * Structured JSON logs (pino) on stdout, one object per line, so `docker logs` and
 * any log shipper read them without parsing text. Level names, not numbers, and ISO
 * timestamps keep them readable by people too.
 */
import { pino, stdTimeFunctions, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export interface LoggerOptions {
  /** The role name, e.g. "host-agent"; on every line as `role`. */
  readonly role: string;
  /** @default process.env.SP_LOG_LEVEL ?? "info" */
  readonly level?: LevelWithSilent;
  /** Extra fields on every line (host id, datacenter, replica...). */
  readonly bindings?: Record<string, unknown>;
  /** Where lines go; tests pass a stream to read them back. @default stdout */
  readonly destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? (process.env.SP_LOG_LEVEL as LevelWithSilent | undefined) ?? "info";
  return pino(
    {
      level,
      base: { role: options.role, ...options.bindings },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
