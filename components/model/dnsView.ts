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
  if (!zones) {
    const records = settingsOf(service, "dns").records;
    // Without records of its own a service serves the plan's zones as they are: the same
    // object for every such service, so its view file is serialised once (./viewFiles.ts).
    zones = records.length === 0 ? plan.zones : zonesWithRecords(plan.zones, records);
    views.set(service, zones);
  }
  return zones;
}
