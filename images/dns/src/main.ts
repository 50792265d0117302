/** Entry point of the dns image: env and replica config, DNS server, management, shutdown. */
import { z } from "zod";
import { createLogger, HttpError, installShutdown, loadConfig, portVar, runtimeEnv, startManagementServer } from "../../runtime";
import { ConfigError, CONFIG_EXIT_CODE } from "../../runtime/config";
import { startDnsApp } from "./app";

const dnsEnv = z.object({
  ...runtimeEnv,
  /** The replica config written by the target (zones, settings). */
  SP_CONFIG: z.string().optional(),
  /** UDP and TCP port of the DNS server. */
  SP_DNS_PORT: portVar(53),
  SP_REPLICA: z.string().default("dns-0"),
});

async function main(): Promise<void> {
  const env = loadConfig(dnsEnv);
  const log = createLogger({ role: "dns", level: env.SP_LOG_LEVEL, bindings: { replica: env.SP_REPLICA } });
  const app = await startDnsApp({ configPath: env.SP_CONFIG, host: env.SP_LISTEN, port: env.SP_DNS_PORT, log }).catch((error: unknown) => {
    if (error instanceof ConfigError || error instanceof Error) {
      process.stderr.write(`dns: ${error.message}\n`);
      process.exit(error instanceof ConfigError ? CONFIG_EXIT_CODE : 1);
    }
    throw error;
  });
  const management = await startManagementServer({
    port: env.SP_MGMT_PORT,
    host: process.env.SP_MGMT_ADDRESS ?? "0.0.0.0",
    log,
    registry: app.registry,
    readiness: () => ({ ready: app.server.udp.address() !== null && app.server.tcp.listening, details: { zones: app.zones().serials() } }),
    routes: [
      {
        method: "POST",
        path: "/reload",
        handler: async () => {
          try {
            return { status: 200, body: { serials: await app.reload() } };
          } catch (error) {
            throw new HttpError(422, `reload failed, previous zones kept: ${(error as Error).message}`);
          }
        },
      },
    ],
  });
  installShutdown({
    log,
    deadlineMs: env.SP_SHUTDOWN_DEADLINE_MS,
    steps: [
      { name: "dns server", run: () => app.close() },
      { name: "management server", run: () => management.close() },
    ],
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`dns failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
