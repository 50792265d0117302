/**
 * The start-up every role's main.ts shares: parse the environment (`runtimeEnv` plus the
 * role's variables), read the replica config and its settings, make the logger, start the
 * role, serve /healthz and /metrics on the management port, and drain on SIGTERM/SIGINT.
 *
 * Exit codes are the contract with the deployment: a {@link ConfigError} (bad variable,
 * bad config file or setting) prints its message and exits 2; a {@link StartupError} prints
 * exactly its message and exits with its code; anything else prints
 * `<role> failed to start: <stack>` and exits 1. Shutdown runs the role's steps, then closes
 * the management server (or closes it first, for roles whose health must fail before their
 * service goes), then stops any certificate watch, under SP_SHUTDOWN_DEADLINE_MS.
 */
import { existsSync } from "node:fs";
import { z } from "zod";
import { TLS_PATHS } from "../../contracts/paths";
import { ConfigError, CONFIG_EXIT_CODE, parseConfig, runtimeEnv } from "./config";
import { createLogger, type Logger } from "./log";
import { isLoopbackAddress, startManagementServer, type ManagementOptions, type ManagementServer } from "./management";
import { readReplicaConfig, type ReplicaConfig } from "./replica";
import { installShutdown, type ShutdownStep } from "./shutdown";
import { createReloadingTls, type ReloadingTls, type TlsFiles } from "./tls";

/** A start-up failure whose message the operator sees verbatim, with the exit code to use. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = CONFIG_EXIT_CODE,
  ) {
    super(message);
    this.name = "StartupError";
  }
}

/** The replica's service certificate, mounted by the deployment (components/DatacenterService.ts). */
export const tlsEnv = {
  SP_TLS_CERT: z.string().default(TLS_PATHS.cert),
  SP_TLS_KEY: z.string().default(TLS_PATHS.key),
};

/** The certificate files when both exist, else undefined (a bare `docker run`, tests). */
export function mountedCertificate(env: { readonly SP_TLS_CERT: string; readonly SP_TLS_KEY: string }): TlsFiles | undefined {
  return existsSync(env.SP_TLS_CERT) && existsSync(env.SP_TLS_KEY) ? { certFile: env.SP_TLS_CERT, keyFile: env.SP_TLS_KEY } : undefined;
}

/**
 * Where and how the management port listens (images/runtime/management.ts): with a management
 * address (every datacenter replica on a management network), HTTPS with mutual TLS using the
 * replica's own certificate and the datacenter CA — a replica without them does not start;
 * without one, loopback only, or every address in plain HTTP when `SP_MGMT_INSECURE=true`
 * asks for it (tests, a bare `docker run`).
 */
export function managementListener(
  raw: Readonly<Record<string, string | undefined>>,
  fallbackHost = "127.0.0.1",
): Pick<ManagementOptions, "host" | "tls" | "insecure"> {
  const address = raw.SP_MGMT_ADDRESS;
  // A loopback management address (tests running several replicas on one machine) is reachable
  // from this machine only, like the loopback listener itself.
  if (address && !isLoopbackAddress(address)) {
    return {
      host: address,
      tls: { certFile: raw.SP_TLS_CERT || TLS_PATHS.cert, keyFile: raw.SP_TLS_KEY || TLS_PATHS.key, caFile: raw.SP_TLS_CA || TLS_PATHS.ca },
    };
  }
  if (address) return { host: address };
  return raw.SP_MGMT_INSECURE === "true" ? { host: fallbackHost === "127.0.0.1" ? "0.0.0.0" : fallbackHost, insecure: true } : { host: fallbackHost };
}

/** What the bootstrap serves on the management port for the role. */
export type ManagementSpec = Pick<ManagementOptions, "readiness" | "registry" | "routes" | "streams">;

/** What a role's `start` hands back once its servers listen. */
export type StartedRole = {
  /** The role's own shutdown steps, in order (stop accepting first, then flush). */
  readonly steps?: readonly ShutdownStep[];
  /** Close the management server before the role's steps (health fails first). */
  readonly managementFirst?: boolean;
} & (
  | { readonly management: ManagementSpec }
  /** A role that starts its own management server (the host agent). */
  | { readonly managementServer: ManagementServer }
);

export interface ServerContext<E> {
  readonly env: E;
  readonly log: Logger;
  /** A certificate that reloads when its files change; the watch stops at shutdown. */
  reloadingTls(files: TlsFiles): Promise<ReloadingTls>;
}

export interface RoleContext<E, S> extends ServerContext<E> {
  readonly config: ReplicaConfig<S>;
}

/** Injected by tests; a real start-up uses the process's own. */
export interface BootstrapIo {
  readonly env?: NodeJS.ProcessEnv;
  readonly exit?: (code: number) => void;
  readonly stderr?: (text: string) => void;
  /** @default ["SIGTERM", "SIGINT"] */
  readonly signals?: readonly NodeJS.Signals[];
  /** Receives the function that starts the same shutdown a signal does. */
  readonly onShutdown?: (shutdown: (reason: string) => Promise<void>) => void;
}

export interface ServerDefinition<E extends z.ZodObject> {
  /** The role name: `role` on every log line and the prefix of start-up failures. */
  readonly name: string;
  /** The whole environment schema (spread `runtimeEnv` into it). */
  readonly env: E;
  readonly bindings: (env: z.output<E>) => Record<string, unknown>;
  readonly start: (context: ServerContext<z.output<E>>) => Promise<StartedRole>;
}

type RuntimeValues = z.output<z.ZodObject<typeof runtimeEnv>>;

const replicaEnv = (name: string) => ({
  /** The replica config written by the target (components/model/runtimeConfig.ts). */
  SP_CONFIG: z.string().optional(),
  SP_REPLICA: z.string().default(`${name}-0`),
});

type RoleEnv<E extends z.ZodRawShape> = z.output<z.ZodObject<typeof runtimeEnv & ReturnType<typeof replicaEnv> & E>>;

export interface RoleDefinition<E extends z.ZodRawShape, S extends z.ZodType> {
  readonly name: string;
  /** The role's own variables; `runtimeEnv`, SP_CONFIG and SP_REPLICA (`<name>-0`) are added. */
  readonly env: E;
  /** The role's settings in the replica config (contracts/settings/<role>.ts). */
  readonly settings: S;
  /** Fields on every log line. @default { replica: SP_REPLICA } */
  readonly bindings?: (env: RoleEnv<E>, config: ReplicaConfig<z.output<S>>) => Record<string, unknown>;
  readonly start: (context: RoleContext<RoleEnv<E>, z.output<S>>) => Promise<StartedRole>;
}

/** Starts a role that reads the replica config (every role but the host agent). */
export function runRole<E extends z.ZodRawShape, S extends z.ZodType>(definition: RoleDefinition<E, S>, io: BootstrapIo = {}): Promise<void> {
  const schema = z.object({ ...runtimeEnv, ...replicaEnv(definition.name), ...definition.env });
  return boot(
    definition.name,
    (raw) => {
      const env = parseConfig(schema, raw) as RoleEnv<E>;
      const replica = env as unknown as { readonly SP_CONFIG?: string; readonly SP_REPLICA: string };
      const config = readReplicaConfig(replica.SP_CONFIG, definition.settings);
      return { env, config, bindings: definition.bindings ? definition.bindings(env, config) : { replica: replica.SP_REPLICA } };
    },
    definition.start,
    io,
  );
}

/** Starts a server from its environment alone (the host agent); {@link runRole} adds the replica config. */
export function runServer<E extends z.ZodObject>(definition: ServerDefinition<E>, io: BootstrapIo = {}): Promise<void> {
  return boot(
    definition.name,
    (raw) => {
      const env = parseConfig(definition.env, raw) as z.output<E>;
      return { env, config: undefined, bindings: definition.bindings(env) };
    },
    definition.start,
    io,
  );
}

interface Loaded<E, C> {
  readonly env: E;
  readonly config: C;
  readonly bindings: Record<string, unknown>;
}

async function boot<E, C>(
  name: string,
  load: (env: NodeJS.ProcessEnv) => Loaded<E, C>,
  start: (context: ServerContext<E> & { readonly config: C }) => Promise<StartedRole>,
  io: BootstrapIo,
): Promise<void> {
  const raw = io.env ?? process.env;
  const exit = io.exit ?? ((code: number) => process.exit(code));
  const stderr = io.stderr ?? ((text: string) => void process.stderr.write(text));
  const watches: (() => void)[] = [];
  try {
    const { env, config, bindings } = load(raw);
    const runtime = env as RuntimeValues;
    const log = createLogger({ role: name, level: runtime.SP_LOG_LEVEL, bindings });
    const reloadingTls = async (files: TlsFiles) => {
      const tls = await createReloadingTls(files, log);
      watches.push(tls.watch());
      return tls;
    };
    const started = await start({ env, config, log, reloadingTls });
    const management =
      "managementServer" in started
        ? started.managementServer
        : await startManagementServer({ port: runtime.SP_MGMT_PORT, log, ...managementListener(raw), ...started.management });
    const closeManagement: ShutdownStep = { name: "management server", run: () => management.close() };
    const own = started.steps ?? [];
    const steps = started.managementFirst ? [closeManagement, ...own] : [...own, closeManagement];
    if (watches.length > 0) steps.push({ name: "certificate reload", run: async () => watches.forEach((stop) => stop()) });
    const shutdown = installShutdown({ log, deadlineMs: runtime.SP_SHUTDOWN_DEADLINE_MS, steps, exit, ...(io.signals ? { signals: io.signals } : {}) });
    io.onShutdown?.(shutdown);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof StartupError) stderr(`${error.message}\n`);
    else stderr(`${name} failed to start: ${(error as Error).stack ?? String(error)}\n`);
    exit(error instanceof ConfigError ? CONFIG_EXIT_CODE : error instanceof StartupError ? error.exitCode : 1);
  }
}
