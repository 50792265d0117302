/** Entry point of the web image: env and replica config, HTTP(S) servers, management, shutdown. */
import { existsSync } from "node:fs";
import { z } from "zod";
import { createLogger, installShutdown, loadConfig, portVar, runtimeEnv, startManagementServer } from "../../runtime";
import { loadReplicaConfig } from "../../runtime/replica";
import { webSettingsSchema } from "../settings";
import { startWebApp } from "./app";

const webEnv = z.object({
  ...runtimeEnv,
  SP_CONFIG: z.string().optional(),
  SP_HTTP_PORT: portVar(8080),
  SP_HTTPS_PORT: portVar(8443),
  /** The replica's certificate; HTTPS is off when neither it nor a site certificate exists. */
  SP_TLS_CERT: z.string().default("/etc/serverpark/tls/tls.crt"),
  SP_TLS_KEY: z.string().default("/etc/serverpark/tls/tls.key"),
  /** Where inline site content is written (the root filesystem is read-only). */
  SP_SITES_DIR: z.string().default("/tmp/sites"),
});

async function main(): Promise<void> {
  const env = loadConfig(webEnv);
  const config = loadReplicaConfig(env.SP_CONFIG, webSettingsSchema);
  const log = createLogger({ role: "web", level: env.SP_LOG_LEVEL, bindings: { replica: config.replica } });
  const tls = existsSync(env.SP_TLS_CERT) && existsSync(env.SP_TLS_KEY) ? { certFile: env.SP_TLS_CERT, keyFile: env.SP_TLS_KEY } : undefined;
  const app = await startWebApp({
    config,
    host: env.SP_LISTEN,
    httpPort: env.SP_HTTP_PORT,
    httpsPort: env.SP_HTTPS_PORT,
    ...(tls ? { tls } : {}),
    scratchDir: env.SP_SITES_DIR,
    log,
  });
  const management = await startManagementServer({
    port: env.SP_MGMT_PORT,
    host: process.env.SP_MGMT_ADDRESS ?? "0.0.0.0",
    log,
    registry: app.registry,
    readiness: () => ({ ready: app.http.listening, details: { sites: app.sites.sites.map((s) => s.host), https: app.https?.listening ?? false } }),
  });
  installShutdown({
    log,
    deadlineMs: env.SP_SHUTDOWN_DEADLINE_MS,
    steps: [
      { name: "web servers", run: () => app.close() },
      { name: "management server", run: () => management.close() },
    ],
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`web failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
