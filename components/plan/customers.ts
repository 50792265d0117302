/**
 * Hosting customers in the plan: what each one bought (quota, limits), where their site is
 * served (the first web service, reached through the first internet-facing proxy, from the
 * first file account's `public_html`), and one DNS zone per customer domain on the
 * datacenter's name servers: SOA, NS, the apex and `www` to the proxy, MX to the mail service
 * when it faces the internet, then the customer's own records (their A, AAAA or CNAME at the
 * apex or `www` replaces the default addresses there, their MX the default MX).
 */
import { CUSTOMER_SITE_FOLDER } from "../../contracts/paths";
import { issuerOf } from "../spec/certificates";
import type { DatacenterSpec } from "../spec/schema";
import { DEFAULT_TTL, extraRecord, withSoa } from "./dns";
import type { DnsRecord, DnsZone, PlannedCustomer, PlannedNetwork, PlannedReplica, PlannedService } from "./types";

const MIB = 1024 * 1024;

export function planCustomers(spec: DatacenterSpec, services: readonly PlannedService[], internetNets: ReadonlySet<string>): PlannedCustomer[] {
  const plans = new Map(spec.plans.map((p) => [p.id, p]));
  const file = services.find((s) => s.role === "file");
  const web = services.find((s) => s.role === "web");
  const proxy = services.find((s) => s.role === "proxy" && s.networks.some((n) => internetNets.has(n))) ?? services.find((s) => s.role === "proxy");
  const mail = services.find((s) => s.role === "mail");
  return spec.customers.map((c, i) => {
    const hosting = plans.get(c.plan)!.hosting!;
    const names = c.domains.flatMap((d) => [d.name, `www.${d.name}`]);
    return {
      id: c.id,
      plan: c.plan,
      quotaBytes: hosting.quotaMb * MIB,
      domains: c.domains.map((d) => d.name),
      fileAccounts: c.fileAccounts.map((a) => ({ name: a.name, password: a.password, sshKeys: [...a.sshKeys] })),
      mailboxes: c.mailboxes.map((m) => ({ address: m.address, quotaBytes: (m.quotaMb ?? hosting.mailboxQuotaMb) * MIB })),
      site: {
        account: c.fileAccounts[0]!.name,
        folder: CUSTOMER_SITE_FOLDER,
        fileService: file?.id ?? "",
        webService: web?.id ?? "",
        proxyService: proxy?.id ?? "",
        names,
        ...(issuerOf(spec, i) === "acme" ? { acme: true as const } : {}),
      },
      // Every customer domain, with mailboxes or not: MX names the mail service, which answers 550 for unknown addresses there.
      ...(mail ? { mailService: mail.id } : {}),
    };
  });
}

/** Addresses a service offers on internet networks (every replica but an HA monitor). */
function internetAddresses(svc: PlannedService | undefined, replicas: readonly PlannedReplica[], networks: readonly PlannedNetwork[]): string[] {
  if (!svc) return [];
  const internet = networks.filter((n) => n.exposure === "internet" && svc.networks.includes(n.id)).map((n) => n.id);
  const out: string[] = [];
  for (const r of replicas) {
    if (r.service !== svc.id || r.part === "monitor") continue;
    for (const n of internet) if (r.addresses[n] !== undefined) out.push(r.addresses[n]);
  }
  return out;
}

/**
 * One zone per customer domain. `nameServers` are the datacenter's (ns1.<domain>…, from its
 * forward zone); the proxy's and the mail service's names are the datacenter's too.
 */
export function customerZones(
  spec: DatacenterSpec,
  customers: readonly PlannedCustomer[],
  nameServers: readonly string[],
  services: readonly PlannedService[],
  replicas: readonly PlannedReplica[],
  networks: readonly PlannedNetwork[],
): DnsZone[] {
  const byId = new Map(services.map((s) => [s.id, s]));
  const zones: DnsZone[] = [];
  customers.forEach((customer, c) => {
    const proxyAddresses = internetAddresses(byId.get(customer.site.proxyService), replicas, networks);
    const mail = services.find((s) => s.role === "mail" && internetAddresses(s, replicas, networks).length > 0);
    for (const domain of spec.customers[c]!.domains) {
      const origin = domain.name;
      const own = domain.records.map((r) => extraRecord(r, origin));
      // Names where the customer gives addresses (or an alias) of their own: no default A there.
      const defined = new Set(own.filter((r) => r.type === "A" || r.type === "AAAA" || r.type === "CNAME").map((r) => r.name));
      const defaults: DnsRecord[] = [];
      for (const ns of nameServers) defaults.push({ name: origin, ttl: DEFAULT_TTL, type: "NS", data: ns });
      for (const name of [origin, `www.${origin}`]) {
        if (defined.has(name)) continue;
        for (const address of proxyAddresses) defaults.push({ name, ttl: DEFAULT_TTL, type: "A", data: address });
      }
      if (mail && !own.some((r) => r.name === origin && r.type === "MX")) {
        defaults.push({ name: origin, ttl: DEFAULT_TTL, type: "MX", data: { preference: 10, exchange: `${mail.id}.${spec.domain}` } });
      }
      zones.push(withSoa(origin, nameServers, [...defaults, ...own]));
    }
  });
  return zones;
}
