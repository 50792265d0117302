/** Entry point of the proxy image: its variables and settings, HTTP(S) listeners, readiness; the rest is images/runtime/bootstrap.ts. */
import { ConfigError, mountedCertificate, portVar, runRole, tlsEnv } from "../../runtime";
import { proxySettingsSchema } from "../../../contracts/settings/proxy";
import { startProxyApp } from "./app";
import { rolePort } from "../../../contracts/roles";
import { PROXY_ACME_PATH } from "../../../contracts/paths";
import { z } from "zod";

void runRole({
  name: "proxy",
  env: {
    SP_HTTP_PORT: portVar(rolePort("proxy", "http")),
    SP_HTTPS_PORT: portVar(rolePort("proxy", "https")),
    /** The replica's certificate; HTTPS is off when neither it nor a site certificate exists. */
    ...tlsEnv,
    /** ACME account key and customers' certificates, when the view asks for ACME (on the proxy's volume). */
    SP_ACME_DIR: z.string().default(PROXY_ACME_PATH),
  },
  settings: proxySettingsSchema,
  bindings: (_env, config) => ({ replica: config.replica }),
  start: async ({ env, config, log }) => {
    const tls = mountedCertificate(env);
    const app = await startProxyApp({
      config,
      host: env.SP_LISTEN,
      httpPort: env.SP_HTTP_PORT,
      httpsPort: env.SP_HTTPS_PORT,
      ...(tls ? { tls } : {}),
      acme: { dir: env.SP_ACME_DIR },
      log,
    }).catch((error: unknown) => {
      // A route naming a missing service is a configuration error like a bad setting: exit 2.
      if (error instanceof Error && error.message.startsWith("settings.")) throw new ConfigError([error.message]);
      throw error;
    });
    return {
      management: {
        registry: app.registry,
        // Ready while listening and at least one upstream of every route may take traffic.
        readiness: () => {
          const routes = app.router.routes.map((r) => ({
            route: r.id,
            available: r.pool.servers.filter((s) => s.healthy && s.ejectedUntil <= Date.now()).length,
          }));
          const listening = app.listening();
          return { ready: listening.http && routes.every((r) => r.available > 0), details: { routes, https: listening.https } };
        },
      },
      steps: [{ name: "proxy listeners", run: () => app.close() }],
    };
  },
});
