/**
 * A web service's view: the hosting customers' sites it serves (contracts/views/web.ts),
 * those whose plan entry names it (components/plan/customers.ts). Computed once per service.
 */
import type { CustomerSite } from "../../contracts/views/web";
import type { DatacenterPlan, PlannedService } from "../plan";

const views = new WeakMap<PlannedService, readonly CustomerSite[]>();

export function customerSitesOf(plan: DatacenterPlan, service: PlannedService): readonly CustomerSite[] {
  let sites = views.get(service);
  if (!sites) {
    sites = (plan.customers ?? [])
      .filter((c) => c.site.webService === service.id)
      .map((c) => ({ customer: c.id, account: c.site.account, names: [...c.site.names] }));
    views.set(service, sites);
  }
  return sites;
}
