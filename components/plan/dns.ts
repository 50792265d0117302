/**
 * The datacenter's DNS zones, derived from the plan: the forward zone (SOA, NS, per-network
 * names for every replica, service and host agent, mail records when a mail service faces the
 * internet) and one reverse zone per /24 that holds planned addresses. Records are sorted and
 * the SOA serial is a hash of the record set, so the same plan always gives the same zone.
 */
import { createHash } from "node:crypto";
import type { ExtraRecord } from "../../contracts/settings/dns";
import type { DnsRecord, DnsZone, PlannedHost, PlannedNetwork, PlannedReplica, PlannedService } from "./types";

export const DEFAULT_TTL = 300;

export interface ZoneInput {
  readonly domain: string;
  readonly hosts: readonly PlannedHost[];
  readonly networks: readonly PlannedNetwork[];
  readonly services: readonly PlannedService[];
  readonly replicas: readonly PlannedReplica[];
}

const TYPE_ORDER = ["SOA", "NS", "MX", "TXT", "SRV", "A", "AAAA", "CNAME", "PTR"];

/** Record data as text: plain for the string-valued types (most records), JSON otherwise. */
function dataKey(r: DnsRecord): string {
  return typeof r.data === "string" ? r.data : JSON.stringify(r.data);
}

function sortRecords(records: DnsRecord[]): DnsRecord[] {
  const keyed = records.map((r) => ({
    r,
    key: `${r.name.split(".").reverse().join(".")}\u0000${String(TYPE_ORDER.indexOf(r.type)).padStart(2, "0")}\u0000${dataKey(r)}`,
  }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.r);
}

/** The zone of `records` (every record but the SOA, final), whose SOA serial is a hash of exactly them. */
function withSoa(origin: string, ns: readonly string[], records: readonly DnsRecord[]): DnsZone {
  const body = sortRecords(dedupe(records));
  const hash = createHash("sha256");
  for (const r of body) hash.update(`${r.name} ${r.type} ${r.ttl} ${dataKey(r)}\n`);
  const serial = hash.digest().readUInt32BE(0) >>> 1; // 31 bits: always a valid serial
  const soa: DnsRecord = {
    name: origin,
    ttl: DEFAULT_TTL,
    type: "SOA",
    data: { mname: ns[0] ?? `ns1.${origin}`, rname: `hostmaster.${origin}`, serial, refresh: 3600, retry: 600, expire: 1209600, minimum: 60 },
  };
  return { origin, records: [soa, ...body] };
}

/** `www` → `www.<origin>`, `@` → origin, `x.example.` → `x.example`. */
export function absoluteName(name: string, origin: string): string {
  if (name === "@" || name === "") return origin;
  if (name.endsWith(".")) return name.slice(0, -1).toLowerCase();
  return `${name}.${origin}`.toLowerCase();
}

/** A record of a dns service's settings with absolute names (relative ones hang off `origin`, the forward zone). */
export function extraRecord(r: ExtraRecord, origin: string): DnsRecord {
  const abs = (n: string) => absoluteName(n, origin);
  const name = abs(r.name);
  switch (r.type) {
    case "CNAME":
    case "NS":
    case "PTR":
      return { name, ttl: r.ttl, type: r.type, data: abs(r.data) };
    case "MX":
      return { name, ttl: r.ttl, type: "MX", data: { preference: r.data.preference, exchange: abs(r.data.exchange) } };
    case "SRV":
      return { name, ttl: r.ttl, type: "SRV", data: { ...r.data, target: abs(r.data.target) } };
    default:
      return { name, ttl: r.ttl, type: r.type, data: r.data } as DnsRecord;
  }
}

/** The zone of `zones` a name belongs to: the longest origin it ends in. */
export function zoneFor<Z extends { readonly origin: string }>(zones: readonly Z[], name: string): Z | undefined {
  let best: Z | undefined;
  for (const z of zones) {
    if ((name === z.origin || name.endsWith(`.${z.origin}`)) && (!best || z.origin.length > best.origin.length)) best = z;
  }
  return best;
}

/**
 * The final zones a dns service serves: the plan's zones with its settings' records merged
 * into the zone holding their name, every zone's SOA serial hashed after the merge (so a
 * change of records alone changes the serial and secondaries and caches see it).
 * @throws Error naming a record whose name is outside every zone (the planner reports it first)
 */
export function zonesWithRecords(zones: readonly DnsZone[], extra: readonly ExtraRecord[]): DnsZone[] {
  if (extra.length === 0) return [...zones];
  const origin = zones[0]?.origin ?? "";
  const added = new Map<string, DnsRecord[]>();
  for (const r of extra) {
    const record = extraRecord(r, origin);
    const zone = zoneFor(zones, record.name);
    if (!zone) throw new Error(`record ${record.name} ${record.type} is outside every zone (${zones.map((z) => z.origin).join(", ")})`);
    added.set(zone.origin, [...(added.get(zone.origin) ?? []), record]);
  }
  return zones.map((z) => {
    const more = added.get(z.origin);
    if (!more) return z;
    const soa = z.records.find((r) => r.type === "SOA");
    const ns = soa?.type === "SOA" ? [soa.data.mname] : [];
    return withSoa(z.origin, ns, [...z.records.filter((r) => r.type !== "SOA"), ...more]);
  });
}

/** Address a service offers to the world: its internet-facing one, else its first network's. */
function primaryAddress(replica: PlannedReplica, networks: readonly PlannedNetwork[]): string | undefined {
  const internet = networks.find((n) => n.exposure === "internet" && replica.addresses[n.id] !== undefined);
  if (internet) return replica.addresses[internet.id];
  return Object.values(replica.addresses)[0];
}

export function buildZones(input: ZoneInput): DnsZone[] {
  const { domain } = input;
  const fq = (label: string) => (label === "" ? domain : `${label}.${domain}`);
  const records: DnsRecord[] = [];
  const a = (name: string, address: string): DnsRecord => ({ name, ttl: DEFAULT_TTL, type: "A", data: address });
  const byService = new Map<string, PlannedReplica[]>();
  for (const r of input.replicas) {
    const list = byService.get(r.service);
    if (list) list.push(r);
    else byService.set(r.service, [r]);
  }
  const replicasOf = (svc: PlannedService) => byService.get(svc.id) ?? [];
  const canonical = new Map<string, string>(); // address → canonical name, for PTR records

  for (const net of input.networks) {
    for (const host of input.hosts) {
      const address = host.addresses[net.id];
      if (address === undefined) continue;
      records.push(a(fq(`${host.id}.${net.id}`), address));
      canonical.set(address, fq(`${host.id}.${net.id}`));
    }
    for (const svc of input.services) {
      for (const replica of replicasOf(svc)) {
        const address = replica.addresses[net.id];
        if (address === undefined) continue;
        records.push(a(fq(`${replica.id}.${net.id}`), address));
        // An HA group's monitor has its own name only: the service's name leads to the data nodes.
        if (replica.part !== "monitor") records.push(a(fq(`${svc.id}.${net.id}`), address));
        canonical.set(address, fq(`${replica.id}.${net.id}`));
      }
    }
  }

  // Name servers: the replicas of the first dns service, at their primary addresses. Further
  // dns services serve the same zones but are not delegated to.
  const nameServers: string[] = [];
  for (const svc of input.services.filter((s) => s.role === "dns").slice(0, 1)) {
    for (const replica of replicasOf(svc)) {
      const address = primaryAddress(replica, input.networks);
      if (address === undefined) continue;
      const name = fq(`ns${nameServers.length + 1}`);
      nameServers.push(name);
      records.push({ name: domain, ttl: DEFAULT_TTL, type: "NS", data: name }, a(name, address));
    }
  }

  // Internet-facing services answer under their plain name too (www.park.example).
  const internetNets = new Set(input.networks.filter((n) => n.exposure === "internet").map((n) => n.id));
  for (const svc of input.services) {
    for (const replica of replicasOf(svc).filter((r) => r.part !== "monitor")) {
      for (const netId of svc.networks.filter((n) => internetNets.has(n))) {
        const address = replica.addresses[netId];
        if (address !== undefined) records.push(a(fq(svc.id), address));
      }
    }
  }

  const mail = input.services.find((s) => s.role === "mail" && s.networks.some((n) => internetNets.has(n)));
  if (mail) {
    const target = fq(mail.id);
    records.push(
      { name: domain, ttl: DEFAULT_TTL, type: "MX", data: { preference: 10, exchange: target } },
      { name: domain, ttl: DEFAULT_TTL, type: "TXT", data: ["v=spf1 mx -all"] },
      { name: fq("_submission._tcp"), ttl: DEFAULT_TTL, type: "SRV", data: { priority: 0, weight: 1, port: 587, target } },
      { name: fq("_imaps._tcp"), ttl: DEFAULT_TTL, type: "SRV", data: { priority: 0, weight: 1, port: 993, target } },
      { name: fq("_pop3s._tcp"), ttl: DEFAULT_TTL, type: "SRV", data: { priority: 0, weight: 1, port: 995, target } },
    );
  }

  const zones = [withSoa(domain, nameServers, records)];

  // Reverse zones: one per /24 that holds a planned address.
  const reverse = new Map<string, DnsRecord[]>();
  for (const [address, name] of canonical) {
    const [o1, o2, o3, o4] = address.split(".");
    const origin = `${o3}.${o2}.${o1}.in-addr.arpa`;
    const list = reverse.get(origin) ?? [];
    list.push({ name: `${o4}.${origin}`, ttl: DEFAULT_TTL, type: "PTR", data: name });
    reverse.set(origin, list);
  }
  for (const origin of [...reverse.keys()].sort()) {
    const list = reverse.get(origin)!;
    zones.push(withSoa(origin, nameServers, [...list, ...nameServers.map((ns): DnsRecord => ({ name: origin, ttl: DEFAULT_TTL, type: "NS", data: ns }))]));
  }
  return zones;
}

function dedupe(records: readonly DnsRecord[]): DnsRecord[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const key = `${r.name}|${r.type}|${dataKey(r)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
