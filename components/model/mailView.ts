/**
 * A mail service's view: the hosting customers' domains and mailboxes it holds
 * (contracts/views/mail.ts), each mailbox with its quota from the plan. Computed once per service.
 */
import type { MailView } from "../../contracts/views/mail";
import type { DatacenterPlan, PlannedService } from "../plan";

const views = new WeakMap<PlannedService, MailView>();

export function mailViewOf(plan: DatacenterPlan, service: PlannedService): MailView {
  let view = views.get(service);
  if (!view) {
    const customers = (plan.customers ?? []).filter((c) => c.mailService === service.id);
    view = {
      domains: customers.flatMap((c) => c.domains),
      mailboxes: customers.flatMap((c) => c.mailboxes.map((m) => ({ address: m.address, customer: c.id, quotaBytes: m.quotaBytes }))),
    };
    views.set(service, view);
  }
  return view;
}
