/**
 * The replica's runtime config file (`$SP_CONFIG`, default RUNTIME_CONFIG_PATH, written by
 * the target from the plan; its schema is contracts/runtimeConfig.ts): identity, the role's
 * `settings` from the stack, and the view its role's job needs (the proxy's routes, the NOC's
 * probe targets and drawing, a dns server's zones). Roles validate their own
 * `settings` with a zod schema; a bad file or bad settings stop start-up with one message
 * naming each setting (`settings.sites[0].host: ...`) and exit code 2, like bad env vars.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { RUNTIME_CONFIG_PATH } from "../../contracts/paths";
import { replicaRuntimeConfigSchema, roleViewSchema, type ParsedRuntimeConfig } from "../../contracts/runtimeConfig";
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
  return withView(parseReplicaConfig(text, settingsSchema, file), file);
}

/**
 * The role's view from the file the config names (contracts/runtimeConfig.ts `view`), beside
 * the config: its SHA-256 must be the one the config carries (config and view are written by
 * one deployment; a mismatch means half of one), and it must parse.
 */
function withView<C extends Pick<ParsedRuntimeConfig, "view">>(config: C, configPath: string): C {
  if (!config.view) return config;
  const path = join(dirname(configPath), config.view.file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new ConfigError([`cannot read the view file ${path} that ${configPath} names: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== config.view.sha256) {
    throw new ConfigError([
      `${path}: SHA-256 ${sha256} is not the ${config.view.sha256} that ${configPath} names (config and view come from different deployments)`,
    ]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new ConfigError([`${path} is not valid JSON: ${(error as Error).message}`]);
  }
  const view = roleViewSchema.safeParse(raw);
  if (!view.success) throw new ConfigError(view.error.issues.map((i) => `${formatIssuePath(path, i.path)}: ${i.message}`));
  return Object.freeze({ ...config, ...view.data });
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
