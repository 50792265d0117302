/**
 * Typed, frozen configuration from environment variables.
 *
 * Every role describes its environment with a zod object schema whose keys are the
 * variable names. Start-up parses it once; any mistake stops the process with ONE
 * message listing every bad variable and what was expected (exit code 2, the
 * conventional "usage error"), instead of a stack trace or a crash minutes later.
 */
import { z } from "zod";
import { MANAGEMENT_PORT } from "../../contracts/roles";

/** Exit code for a configuration error: the deployment, not the code, must change. */
export const CONFIG_EXIT_CODE = 2;

/** Variables whose values must never be echoed back in an error message. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|KEY/i;

/** A TCP/UDP port number given as a decimal string. */
export const portVar = (fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, "expected a port number (1-65535)")
    .transform(Number)
    .pipe(z.number().int().min(1).max(65535, "expected a port number (1-65535)"))
    .default(fallback);

/** A variable holding JSON, validated against `schema` after parsing; `example` shows the shape. */
export const jsonVar = <T extends z.ZodType>(schema: T, example: string) =>
  z
    .string({ error: `expected JSON, e.g. ${example}` })
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `expected valid JSON, e.g. ${example}` });
        return z.NEVER;
      }
    })
    .pipe(schema);

/** The variables every role understands; roles spread this into their own schema. */
export const runtimeEnv = {
  /** Port of the management server (/healthz, /metrics). */
  SP_MGMT_PORT: portVar(MANAGEMENT_PORT),
  /** Address the role's servers bind to. */
  SP_LISTEN: z.string().min(1).default("0.0.0.0"),
  /** pino log level. */
  SP_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
  /** How long graceful shutdown may take before connections are cut. */
  SP_SHUTDOWN_DEADLINE_MS: z.string().regex(/^\d+$/, "expected milliseconds as a whole number").transform(Number).default(10_000),
};

/** Thrown by {@link parseConfig}; `message` is already written for the operator. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** `SP_PSUS[0].feed` from zod's path `["SP_PSUS", 0, "feed"]`. */
function formatPath(path: readonly PropertyKey[]): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`)).join("");
}

function valueAt(json: string, path: readonly PropertyKey[]): unknown {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return json;
  }
  for (const key of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  return value;
}

/** Parses `env` with `schema`, or throws a {@link ConfigError} naming every problem. */
export function parseConfig<S extends z.ZodObject>(schema: S, env: Record<string, string | undefined> = process.env): Readonly<z.output<S>> {
  // Empty strings count as unset: `FOO=` in a compose file usually means "no value".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (result.success) return Object.freeze(result.data);
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "?");
    const raw = cleaned[name];
    // zod says "Invalid input: expected string, received undefined"; say what matters.
    const expected = issue.message.replace(/^Invalid (input|option): /, "").replace(/, received undefined$/, "");
    if (raw === undefined) return `${name} is not set; ${expected}`;
    const where = formatPath(issue.path);
    // Inside a JSON variable, point at the offending value rather than the whole text.
    const value = issue.path.length > 1 ? valueAt(raw, issue.path.slice(1)) : raw;
    if (value === undefined) return `${where} is missing; ${expected}`;
    const shown = typeof value === "string" ? value : JSON.stringify(value);
    const got = SECRET_NAME.test(name) ? "value hidden" : `got ${JSON.stringify(shown.slice(0, 120))}`;
    return `${where}: ${expected} (${got})`;
  });
  throw new ConfigError(problems);
}

/** Start-up entry: {@link parseConfig}, or print the problems and exit with code 2. */
export function loadConfig<S extends z.ZodObject>(schema: S, env = process.env): Readonly<z.output<S>> {
  try {
    return parseConfig(schema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
}
