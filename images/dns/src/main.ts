/** Entry point of the dns image: its port, the DNS server, readiness and reload; the rest is images/runtime/bootstrap.ts. */
import { z } from "zod";
import { ConfigError, CONFIG_EXIT_CODE, HttpError, portVar, runServer, runtimeEnv, StartupError } from "../../runtime";
import { startDnsApp } from "./app";
import { rolePort } from "../../../contracts/roles";

// The app reads the replica config itself (src/config.ts), so that POST /reload can re-read it.
void runServer({
  name: "dns",
  env: z.object({
    ...runtimeEnv,
    /** The replica config written by the target (zones, settings). */
    SP_CONFIG: z.string().optional(),
    /** UDP and TCP port of the DNS server. */
    SP_DNS_PORT: portVar(rolePort("dns", "dns")),
    SP_REPLICA: z.string().default("dns-0"),
  }),
  bindings: (env) => ({ replica: env.SP_REPLICA }),
  start: async ({ env, log }) => {
    const app = await startDnsApp({ configPath: env.SP_CONFIG, host: env.SP_LISTEN, port: env.SP_DNS_PORT, log }).catch((error: unknown) => {
      if (error instanceof Error) throw new StartupError(`dns: ${error.message}`, error instanceof ConfigError ? CONFIG_EXIT_CODE : 1);
      throw error;
    });
    return {
      management: {
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
      },
      steps: [{ name: "dns server", run: () => app.close() }],
    };
  },
});
