/** Entry point of the proxy image: env and replica config, HTTP(S) listeners, management, shutdown. */
import { existsSync } from "node:fs";
import { z } from "zod";
import { createLogger, installShutdown, loadConfig, portVar, runtimeEnv, startManagementServer } from "../../runtime";
import { CONFIG_EXIT_CODE } from "../../runtime/config";
import { loadReplicaConfig } from "../../runtime/replica";
import { proxySettingsSchema } from "../settings";
import { startProxyApp } from "./app";

const proxyEnv = z.object({
  ...runtimeEnv,
  SP_CONFIG: z.string().optional(),
  SP_HTTP_PORT: portVar(80),
  SP_HTTPS_PORT: portVar(443),
  /** The replica's certificate; HTTPS is off when neither it nor a site certificate exists. */
  SP_TLS_CERT: z.string().default("/etc/serverpark/tls/tls.crt"),
  SP_TLS_KEY: z.string().default("/etc/serverpark/tls/tls.key"),
});

async function main(): Promise<void> {
  const env = loadConfig(proxyEnv);
  const config = loadReplicaConfig(env.SP_CONFIG, proxySettingsSchema);
  const log = createLogger({ role: "proxy", level: env.SP_LOG_LEVEL, bindings: { replica: config.replica } });
  const tls = existsSync(env.SP_TLS_CERT) && existsSync(env.SP_TLS_KEY) ? { certFile: env.SP_TLS_CERT, keyFile: env.SP_TLS_KEY } : undefined;
  const app = await startProxyApp({
    config,
    host: env.SP_LISTEN,
    httpPort: env.SP_HTTP_PORT,
    httpsPort: env.SP_HTTPS_PORT,
    ...(tls ? { tls } : {}),
    log,
  }).catch((error: unknown) => {
    // A route naming a missing service is a configuration error like a bad setting: exit 2.
    if (error instanceof Error && error.message.startsWith("settings.")) {
      process.stderr.write(`invalid configuration:\n  - ${error.message}\n`);
      process.exit(CONFIG_EXIT_CODE);
    }
    throw error;
  });
  const management = await startManagementServer({
    port: env.SP_MGMT_PORT,
    host: process.env.SP_MGMT_ADDRESS ?? "0.0.0.0",
    log,
    registry: app.registry,
    // Ready while listening and at least one upstream of every route may take traffic.
    readiness: () => {
      const routes = app.router.routes.map((r) => ({ route: r.id, available: r.pool.servers.filter((s) => s.healthy && s.ejectedUntil <= Date.now()).length }));
      return { ready: app.http.listening && routes.every((r) => r.available > 0), details: { routes, https: app.https?.listening ?? false } };
    },
  });
  installShutdown({
    log,
    deadlineMs: env.SP_SHUTDOWN_DEADLINE_MS,
    steps: [
      { name: "proxy listeners", run: () => app.close() },
      { name: "management server", run: () => management.close() },
    ],
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`proxy failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
