/**
 * The replica's runtime config file (`$SP_CONFIG`, default RUNTIME_CONFIG_PATH, written by
 * the target from the plan; its schema is contracts/runtimeConfig.ts): identity, the role's
 * `settings` from the stack, and the view its role's job needs (the proxy's routes, the NOC's
 * probe targets and drawing, a dns server's zones). Roles validate their own
 * `settings` with a zod schema; a bad file or bad settings stop start-up with one message
 * naming each setting (`settings.sites[0].host: ...`) and exit code 2, like bad env vars.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { RUNTIME_CONFIG_PATH } from "../../contracts/paths";
import { replicaRuntimeConfigSchema, type ParsedRuntimeConfig } from "../../contracts/runtimeConfig";
import { ConfigError, CONFIG_EXIT_CODE } from "./config";

/**
 * The config of a replica started without one (a bare `docker run` of the image, no file at
 * the default path): a lone replica of a one-service datacenter. Only used when the file is
 * missing; a file the program wrote must say all of this itself.
 */
export const STANDALONE_CONFIG: ParsedRuntimeConfig = Object.freeze({
  datacenter: "local",
  domain: "local.test",
  service: "local",
  role: "unknown",
  replica: "local-0",
  host: "localhost",
  rack: "local",
  feeds: [],
  addresses: {},
  networks: {},
  settings: {},
});

export interface ReplicaConfig<S> extends Omit<ParsedRuntimeConfig, "settings"> {
  readonly settings: S;
}

function formatIssuePath(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : `${out}.${String(part)}`), prefix);
}

/** Parses the file's text; throws {@link ConfigError} naming every problem. */
export function parseReplicaConfig<S extends z.ZodType>(text: string, settingsSchema: S, source = "config"): ReplicaConfig<z.output<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${source} is not valid JSON: ${(error as Error).message}`]);
  }
  const file = replicaRuntimeConfigSchema.safeParse(raw);
  if (!file.success) throw new ConfigError(file.error.issues.map((i) => `${formatIssuePath(source, i.path)}: ${i.message}`));
  const settings = settingsSchema.safeParse(file.data.settings);
  if (!settings.success) throw new ConfigError(settings.error.issues.map((i) => `${formatIssuePath("settings", i.path)}: ${i.message}`));
  return Object.freeze({ ...file.data, settings: settings.data as z.output<S> });
}

/** Reads `path`; a missing file means "no settings" (a bare `docker run` of the image). */
export function readReplicaConfig<S extends z.ZodType>(path: string | undefined, settingsSchema: S): ReplicaConfig<z.output<S>> {
  const file = path ?? RUNTIME_CONFIG_PATH;
  let text = JSON.stringify(STANDALONE_CONFIG);
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT" || path !== undefined) {
      throw new ConfigError([`cannot read the replica config ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
    }
  }
  return parseReplicaConfig(text, settingsSchema, file);
}

/** Start-up entry: {@link readReplicaConfig}, or print the problems and exit with code 2. */
export function loadReplicaConfig<S extends z.ZodType>(path: string | undefined, settingsSchema: S): ReplicaConfig<z.output<S>> {
  try {
    return readReplicaConfig(path, settingsSchema);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
}
