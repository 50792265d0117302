/**
 * A dns service's view: the zones it serves, final — the plan's zones with the records of its
 * settings merged in, each SOA serial hashed after the merge (components/plan/dns.ts
 * zonesWithRecords). Computed once per service; its replicas serve them as they are.
 */
import type { DnsZone } from "../../contracts/dns";
import type { DatacenterPlan, PlannedService } from "../plan";
import { zonesWithRecords } from "../plan/dns";
import { settingsOf } from "../spec/roleSettings";

const views = new WeakMap<PlannedService, readonly DnsZone[]>();

export function dnsZonesOf(plan: DatacenterPlan, service: PlannedService): readonly DnsZone[] {
  let zones = views.get(service);
  if (!zones) views.set(service, (zones = zonesWithRecords(plan.zones, settingsOf(service, "dns").records)));
  return zones;
}
