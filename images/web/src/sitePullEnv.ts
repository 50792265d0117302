/** The site puller's variables (contracts/sites.ts SITES_ENV) and its start from them, for main.ts. */
import { z } from "zod";
import type { Logger } from "../../runtime/log";
import type { ReplicaConfig } from "../../runtime/replica";
import { SITES_CLIENT_TLS_PATHS, SITES_ENV, SITE_PULL_INTERVAL_MS, DEFAULT_SITE_MAX_BYTES, sitePullFromSchema } from "../../../contracts/sites";
import { TLS_PATHS } from "../../../contracts/paths";
import { SitePuller } from "./sitePull";

export const sitePullEnv = {
  [SITES_ENV.pullFrom]: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === "") return undefined;
      try {
        return sitePullFromSchema.parse(JSON.parse(text));
      } catch {
        ctx.addIssue({ code: "custom", message: 'expected a JSON list of https URLs, e.g. ["https://10.0.3.4:9100"]' });
        return z.NEVER;
      }
    }),
  [SITES_ENV.maxBytes]: z.coerce.number().int().positive().default(DEFAULT_SITE_MAX_BYTES),
  SP_SITES_PULL_INTERVAL_MS: z.coerce.number().int().positive().default(SITE_PULL_INTERVAL_MS),
  SP_SITES_CLIENT_CERT: z.string().default(SITES_CLIENT_TLS_PATHS.cert),
  SP_SITES_CLIENT_KEY: z.string().default(SITES_CLIENT_TLS_PATHS.key),
  /** The datacenter CA, which issued the file replicas' certificates. */
  SP_TLS_CA: z.string().default(TLS_PATHS.ca),
};

type PullEnv = { [K in keyof typeof sitePullEnv]: z.output<(typeof sitePullEnv)[K]> } & { SP_CUSTOMER_SITES_DIR: string };

/** Starts pulling when the environment names file replicas and the config names customers' sites. */
export function startSitePull(env: PullEnv, config: Pick<ReplicaConfig<unknown>, "customerSites">, log: Logger): SitePuller | undefined {
  const sources = env[SITES_ENV.pullFrom];
  const accounts = [...new Set((config.customerSites ?? []).map((s) => s.account))];
  if (!sources || accounts.length === 0) return undefined;
  const puller = new SitePuller({
    sources,
    tls: { cert: env.SP_SITES_CLIENT_CERT, key: env.SP_SITES_CLIENT_KEY, ca: env.SP_TLS_CA },
    accounts,
    sitesDir: env.SP_CUSTOMER_SITES_DIR,
    maxBytes: env[SITES_ENV.maxBytes],
    intervalMs: env.SP_SITES_PULL_INTERVAL_MS,
    log,
  });
  puller.start();
  log.info({ sources, accounts: accounts.length }, "pulling customer sites from the file service");
  return puller;
}
