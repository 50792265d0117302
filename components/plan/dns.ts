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
const TYPE_RANK = new Map(TYPE_ORDER.map((t, i) => [t, i]));

/** Record data as text: plain for the string-valued types (most records), JSON otherwise. */
function dataKey(r: DnsRecord): string {
  return typeof r.data === "string" ? r.data : JSON.stringify(r.data);
}

/** `a.b.c` → `c.b.a` (what `split(".").reverse().join(".")` gives, without the arrays). */
function reversedName(name: string): string {
  let out = "";
  let end = name.length;
  for (let i = name.length - 1; i >= 0; i--) {
    if (name.charCodeAt(i) === 46) {
      out += `${name.slice(i + 1, end)}.`;
      end = i;
    }
  }
  return out + name.slice(0, end);
}

/** The code unit at `i` of `pre` followed by `first`. */
function unitAt(pre: string, first: string, i: number): number {
  return i < pre.length ? pre.charCodeAt(i) : first.charCodeAt(i - pre.length);
}

/**
 * The records without duplicates (same name, type and data: the first one stays), sorted by
 * name with its labels reversed (the zone's tree order), type (TYPE_ORDER) and data; records
 * equal in all three keep their order. Sorting first and then dropping duplicates within each
 * run of equal keys gives the same records as dropping them first: the sort is stable.
 *
 * A name's reversed form is never built: it is `pre` (the labels after the first, reversed,
 * each followed by a dot — one string shared by every name with the same parent) followed by
 * the first label, and names are compared code unit by code unit as those strings would be.
 */
function sortedUnique(records: readonly DnsRecord[]): DnsRecord[] {
  const n = records.length;
  const first = new Array<string>(n);
  const pre = new Array<string>(n);
  const rank = new Int8Array(n);
  const order = new Array<number>(n);
  const preOf = new Map<string, string>(); // parent name → its reversed labels and a dot
  let lastParent = "";
  let lastPre = "";
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    const name = r.name;
    const dot = name.indexOf(".");
    if (dot < 0) {
      pre[i] = "";
      first[i] = name;
    } else {
      if (name.length - dot - 1 !== lastParent.length || !name.endsWith(lastParent) || lastPre === "") {
        lastParent = name.slice(dot + 1);
        lastPre = preOf.get(lastParent) ?? `${reversedName(lastParent)}.`;
        preOf.set(lastParent, lastPre);
      }
      pre[i] = lastPre;
      first[i] = name.slice(0, dot);
    }
    rank[i] = TYPE_RANK.get(r.type) ?? -1;
    order[i] = i;
  }
  const compareNames = (a: number, b: number): number => {
    const pa = pre[a]!;
    const pb = pre[b]!;
    const fa = first[a]!;
    const fb = first[b]!;
    if (pa === pb) return fa === fb ? 0 : fa < fb ? -1 : 1; // equal up to the first labels
    const la = pa.length + fa.length;
    const lb = pb.length + fb.length;
    const common = la < lb ? la : lb;
    for (let i = 0; i < common; i++) {
      const ca = unitAt(pa, fa, i);
      const cb = unitAt(pb, fb, i);
      if (ca !== cb) return ca - cb;
    }
    return la - lb;
  };
  const data = new Array<string | undefined>(n); // only computed for records whose name and type tie
  const dataOf = (i: number) => (data[i] ??= dataKey(records[i]!));
  const compare = (a: number, b: number): number => {
    const byName = compareNames(a, b);
    if (byName !== 0) return byName;
    if (rank[a] !== rank[b]) return rank[a]! - rank[b]!;
    const da = dataOf(a);
    const db = dataOf(b);
    if (da !== db) return da < db ? -1 : 1;
    return a - b;
  };
  order.sort(compare);
  const out: DnsRecord[] = [];
  let runStart = 0; // index in `out` of the first record of the current run of equal keys
  let prev = -1;
  for (const i of order) {
    if (prev < 0 || compareNames(i, prev) !== 0 || rank[i] !== rank[prev] || dataOf(i) !== dataOf(prev)) runStart = out.length;
    prev = i;
    const r = records[i]!;
    let dup = false;
    for (let k = runStart; k < out.length && !dup; k++) dup = out[k]!.type === r.type;
    if (!dup) out.push(r);
  }
  return out;
}

/** The zone of `records` (every record but the SOA, final), whose SOA serial is a hash of exactly them. */
export function withSoa(origin: string, ns: readonly string[], records: readonly DnsRecord[]): DnsZone {
  const body = sortedUnique(records);
  // One line per record, hashed in chunks: the same bytes as one update per line.
  const hash = createHash("sha256");
  let chunk = "";
  for (const r of body) {
    chunk += `${r.name} ${r.type} ${r.ttl} ${dataKey(r)}\n`;
    if (chunk.length > 65536) {
      hash.update(chunk);
      chunk = "";
    }
  }
  hash.update(chunk);
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
  // Every address with its canonical name, for PTR records (the last name given to an address
  // wins; the reverse zones below keep one per address).
  const ptrAddresses: string[] = [];
  const ptrNames: string[] = [];

  for (const net of input.networks) {
    const suffix = `.${net.id}.${domain}`; // fq(`<id>.<net>`)
    for (const host of input.hosts) {
      const address = host.addresses[net.id];
      if (address === undefined) continue;
      const name = host.id + suffix;
      records.push(a(name, address));
      ptrAddresses.push(address);
      ptrNames.push(name);
    }
    for (const svc of input.services) {
      const serviceName = svc.id + suffix;
      for (const replica of replicasOf(svc)) {
        const address = replica.addresses[net.id];
        if (address === undefined) continue;
        const name = replica.id + suffix;
        records.push(a(name, address));
        // An HA group's monitor has its own name only: the service's name leads to the data nodes.
        if (replica.part !== "monitor") records.push(a(serviceName, address));
        ptrAddresses.push(address);
        ptrNames.push(name);
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

  // Reverse zones: one per /24 that holds a planned address (a.b.c.d → d.c.b.a.in-addr.arpa).
  // Per /24 a map of last octet → name: small maps instead of one over every address.
  const reverse = new Map<string, { origin: string; names: Map<string, string> }>(); // "a.b.c" → …
  for (let i = 0; i < ptrAddresses.length; i++) {
    const address = ptrAddresses[i]!;
    const dot = address.lastIndexOf(".");
    const net = address.slice(0, dot);
    let group = reverse.get(net);
    if (group === undefined) {
      group = { origin: `${reversedName(net)}.in-addr.arpa`, names: new Map() };
      reverse.set(net, group);
    }
    group.names.set(address.slice(dot + 1), ptrNames[i]!);
  }
  const byOrigin = [...reverse.values()].sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0));
  for (const { origin, names } of byOrigin) {
    const list: DnsRecord[] = [];
    for (const [octet, name] of names) list.push({ name: `${octet}.${origin}`, ttl: DEFAULT_TTL, type: "PTR", data: name });
    for (const ns of nameServers) list.push({ name: origin, ttl: DEFAULT_TTL, type: "NS", data: ns });
    zones.push(withSoa(origin, nameServers, list));
  }
  return zones;
}
