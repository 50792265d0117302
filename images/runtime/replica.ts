/**
 * The replica's runtime config file (`$SP_CONFIG`, /etc/serverpark/config.json, written by
 * the target from the plan; see components/model/runtimeConfig.ts): identity, the role's
 * `settings` from the stack, and the directory of every service. Roles validate their own
 * `settings` with a zod schema; a bad file or bad settings stop start-up with one message
 * naming each setting (`settings.sites[0].host: ...`) and exit code 2, like bad env vars.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError, CONFIG_EXIT_CODE } from "./config";

export const DEFAULT_CONFIG_PATH = "/etc/serverpark/config.json";

const addresses = z.record(z.string(), z.string());

/** The parts of the file every role may rely on; other keys are ignored, not rejected. */
export const replicaFileSchema = z.object({
  datacenter: z.string().default("local"),
  domain: z.string().default("local.test"),
  service: z.string().default("local"),
  role: z.string().default("unknown"),
  replica: z.string().default("local-0"),
  host: z.string().default("localhost"),
  addresses: addresses.default({}),
  /** network id → CIDR of the replica's networks (see components/model/runtimeConfig.ts). */
  networks: z
    .record(z.string(), z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/, "expected a CIDR such as 10.42.1.0/24"))
    .default({}),
  managementAddress: z.string().optional(),
  settings: z.record(z.string(), z.unknown()).default({}),
  directory: z
    .array(
      z.looseObject({
        id: z.string(),
        role: z.string(),
        ports: z.array(z.looseObject({ name: z.string(), port: z.number().int(), protocol: z.string() })).default([]),
        replicas: z.array(z.looseObject({ id: z.string(), host: z.string().default(""), addresses: addresses.default({}) })).default([]),
      }),
    )
    .default([]),
  zones: z.array(z.unknown()).optional(),
  /** The stack's `services[].backup` for this service (see runtime/backups.ts). */
  backup: z.looseObject({ schedule: z.string(), retentionDays: z.number().positive(), targetHost: z.string().optional() }).optional(),
});

export type ReplicaFile = z.output<typeof replicaFileSchema>;
export type DirectoryService = ReplicaFile["directory"][number];

export interface ReplicaConfig<S> extends Omit<ReplicaFile, "settings"> {
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
  const file = replicaFileSchema.safeParse(raw);
  if (!file.success) throw new ConfigError(file.error.issues.map((i) => `${formatIssuePath(source, i.path)}: ${i.message}`));
  const settings = settingsSchema.safeParse(file.data.settings);
  if (!settings.success) throw new ConfigError(settings.error.issues.map((i) => `${formatIssuePath("settings", i.path)}: ${i.message}`));
  return Object.freeze({ ...file.data, settings: settings.data as z.output<S> });
}

/** Reads `path`; a missing file means "no settings" (a bare `docker run` of the image). */
export function readReplicaConfig<S extends z.ZodType>(path: string | undefined, settingsSchema: S): ReplicaConfig<z.output<S>> {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text = "{}";
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
