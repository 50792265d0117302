/**
 * The web role's view (contracts/runtimeConfig.ts `customerSites`): the hosting customers'
 * sites this web service serves, resolved by the program from the plan
 * (components/model/webView.ts). Each is served from `<CUSTOMER_SITES_PATH>/<account>/current`
 * (contracts/paths.ts), the copy of the account's `public_html` the file service publishes.
 */
import { z } from "zod";

export const customerSiteSchema = z.object({
  customer: z.string(),
  /** The file account whose `public_html` is the site. */
  account: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
  /** Host names the site answers (each domain and its `www.`), lower case. */
  names: z.array(z.string()).min(1),
});

export type CustomerSite = z.output<typeof customerSiteSchema>;
