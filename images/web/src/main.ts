/** Entry point of the web image: its variables and settings, HTTP(S) servers, readiness; the rest is images/runtime/bootstrap.ts. */
import { z } from "zod";
import { mountedCertificate, portVar, runRole, tlsEnv } from "../../runtime";
import { webSettingsSchema } from "../../../contracts/settings/web";
import { startWebApp } from "./app";
import { sitePullEnv, startSitePull } from "./sitePullEnv";
import { rolePort } from "../../../contracts/roles";
import { CUSTOMER_SITES_PATH } from "../../../contracts/paths";

void runRole({
  name: "web",
  env: {
    SP_HTTP_PORT: portVar(rolePort("web", "http")),
    SP_HTTPS_PORT: portVar(rolePort("web", "https")),
    /** The replica's certificate; HTTPS is off when neither it nor a site certificate exists. */
    ...tlsEnv,
    /** Where inline site content is written (the root filesystem is read-only). */
    SP_SITES_DIR: z.string().default("/tmp/sites"),
    /** Customers' published sites: the file service's sites volume, mounted read-only. */
    SP_CUSTOMER_SITES_DIR: z.string().default(CUSTOMER_SITES_PATH),
    /** Where no volume is shared (Hetzner): pull customers' sites from these file replicas into SP_CUSTOMER_SITES_DIR (./sitePull.ts). */
    ...sitePullEnv,
  },
  settings: webSettingsSchema,
  bindings: (_env, config) => ({ replica: config.replica }),
  start: async ({ env, config, log }) => {
    const tls = mountedCertificate(env);
    const app = await startWebApp({
      config,
      host: env.SP_LISTEN,
      httpPort: env.SP_HTTP_PORT,
      httpsPort: env.SP_HTTPS_PORT,
      ...(tls ? { tls } : {}),
      scratchDir: env.SP_SITES_DIR,
      customerSitesDir: env.SP_CUSTOMER_SITES_DIR,
      log,
    });
    const puller = startSitePull(env, config, log);
    return {
      management: {
        registry: app.registry,
        readiness: () => ({ ready: app.http.listening, details: { sites: app.sites.sites.map((s) => s.host), https: app.https?.listening ?? false } }),
      },
      steps: [...(puller ? [{ name: "site pull", run: () => puller.stop() }] : []), { name: "web servers", run: () => app.close() }],
    };
  },
});
