/**
 * A file service's view: the hosting customers' accounts it holds (contracts/views/file.ts).
 * A customer's plan quota is divided evenly among their accounts, so all of a customer's
 * files together never pass it. Computed once per service.
 */
import type { FileAccount } from "../../contracts/views/file";
import type { DatacenterPlan, PlannedService } from "../plan";

const views = new WeakMap<PlannedService, readonly FileAccount[]>();

export function fileAccountsOf(plan: DatacenterPlan, service: PlannedService): readonly FileAccount[] {
  let accounts = views.get(service);
  if (!accounts) {
    accounts = (plan.customers ?? [])
      .filter((c) => c.site.fileService === service.id)
      .flatMap((c) =>
        c.fileAccounts.map((a) => ({ name: a.name, customer: c.id, quotaBytes: Math.floor(c.quotaBytes / c.fileAccounts.length), sshKeys: [...a.sshKeys] })),
      );
    views.set(service, accounts);
  }
  return accounts;
}
