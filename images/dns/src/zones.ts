/**
 * The authoritative data: the zones of the replica's view (the plan's, with the records of the
 * settings merged in by the program) indexed
 * by owner name and type, and the lookup that decides an answer the way RFC 1034 §4.3.2
 * says: REFUSED outside our zones, the records, a CNAME chain, NODATA (NOERROR + SOA) for a
 * name that exists without that type, NXDOMAIN (+ SOA) for a name that does not exist.
 */
import type { Answer as PacketAnswer } from "dns-packet";
import type { DnsRecord, DnsZone } from "../../../contracts/dns";

/** A resource record as dns-packet encodes it (its own union type is too narrow to build generically). */
export type Answer = PacketAnswer & { data?: unknown };
type RRsets = Map<string, Answer[]>;
type SoaData = { serial: number; minimum: number };

interface Zone {
  readonly origin: string;
  readonly soa: Answer & { data: SoaData };
  /** lowercased owner name → type → records */
  readonly nodes: Map<string, RRsets>;
  /** Names that exist only because a longer name does ("empty non-terminals"). */
  readonly interior: Set<string>;
}

export type LookupResult =
  | { readonly refused: true }
  | {
      readonly refused: false;
      readonly rcode: "NOERROR" | "NXDOMAIN";
      readonly answers: Answer[];
      readonly authorities: Answer[];
      readonly additionals: Answer[];
      /** The zone that answered; RRL groups negative answers by it. */
      readonly zone: string;
    };

const MAX_CNAME_CHAIN = 8;

function toAnswer(r: DnsRecord): Answer {
  return { name: r.name.toLowerCase(), type: r.type, ttl: r.ttl, class: "IN", data: r.data } as Answer;
}

export class ZoneSet {
  private readonly zones: Zone[];

  /**
   * @param zones the final zones of this dns service (contracts/runtimeConfig.ts `zones`: the
   *   program merged the settings' records in and computed each SOA serial after)
   * @throws Error naming the record, when records break the rules (CNAME beside other data, no SOA)
   */
  constructor(zones: readonly DnsZone[]) {
    this.zones = zones.map((z) => buildZone(z.origin.toLowerCase(), z.records));
  }

  get origins(): string[] {
    return this.zones.map((z) => z.origin);
  }

  serials(): Record<string, number> {
    return Object.fromEntries(this.zones.map((z): [string, number] => [z.origin, z.soa.data.serial]));
  }

  private bestMatch<T extends { origin: string }>(zones: readonly T[], name: string): T | undefined {
    let best: T | undefined;
    for (const z of zones) {
      if ((name === z.origin || name.endsWith(`.${z.origin}`) || z.origin === "") && (!best || z.origin.length > best.origin.length)) best = z;
    }
    return best;
  }

  lookup(qname: string, qtype: string): LookupResult {
    const lower = qname.toLowerCase();
    const zone = this.bestMatch(this.zones, lower);
    if (!zone) return { refused: true };
    const answers: Answer[] = [];
    let current = lower;
    let owner = qname; // the first RRset keeps the client's spelling of the name
    let activeZone: Zone = zone;
    for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
      const node = activeZone.nodes.get(current);
      if (!node) {
        const exists = activeZone.interior.has(current);
        return this.negative(activeZone, exists ? "NOERROR" : "NXDOMAIN", answers);
      }
      if (qtype === "ANY") {
        for (const set of node.values()) answers.push(...rename(set, owner));
        return this.positive(activeZone, answers);
      }
      const direct = node.get(qtype);
      if (direct) {
        answers.push(...rename(direct, owner));
        return this.positive(activeZone, answers);
      }
      const cname = node.get("CNAME");
      if (!cname || qtype === "CNAME") return this.negative(activeZone, "NOERROR", answers);
      answers.push(...rename(cname, owner));
      current = String(cname[0]!.data).toLowerCase();
      owner = current;
      const next = this.bestMatch(this.zones, current);
      // The target lives outside our zones: the resolver follows it from here (RFC 1034 §4.3.2 step 3a).
      if (!next) return this.positive(activeZone, answers);
      activeZone = next;
    }
    return this.positive(activeZone, answers); // a loop or an over-long chain: return what we have
  }

  private positive(zone: Zone, answers: Answer[]): LookupResult {
    return { refused: false, rcode: "NOERROR", answers, authorities: [], additionals: this.glue(answers), zone: zone.origin };
  }

  private negative(zone: Zone, rcode: "NOERROR" | "NXDOMAIN", answers: Answer[]): LookupResult {
    // RFC 2308 §3: the SOA in the authority section, with its TTL capped at the SOA minimum.
    const soa = { ...zone.soa, ttl: Math.min((zone.soa as { ttl?: number }).ttl ?? 0, zone.soa.data.minimum) } as Answer;
    return { refused: false, rcode, answers, authorities: [soa], additionals: [], zone: zone.origin };
  }

  /** Addresses of the names NS, MX and SRV answers point to, when we know them. */
  private glue(answers: readonly Answer[]): Answer[] {
    const targets = new Set<string>();
    for (const a of answers) {
      if (a.type === "NS") targets.add(String(a.data).toLowerCase());
      else if (a.type === "MX") targets.add((a.data as { exchange: string }).exchange.toLowerCase());
      else if (a.type === "SRV") targets.add((a.data as { target: string }).target.toLowerCase());
    }
    const out: Answer[] = [];
    for (const target of targets) {
      const node = this.bestMatch(this.zones, target)?.nodes.get(target);
      out.push(...(node?.get("A") ?? []), ...(node?.get("AAAA") ?? []));
    }
    return out;
  }
}

function rename(set: readonly Answer[], owner: string): Answer[] {
  return set.map((a) => ({ ...a, name: owner }) as Answer);
}

function buildZone(origin: string, records: readonly DnsRecord[]): Zone {
  const nodes = new Map<string, RRsets>();
  const interior = new Set<string>();
  for (const record of records) {
    const answer = toAnswer(record);
    const owner = answer.name;
    let sets = nodes.get(owner);
    if (!sets) nodes.set(owner, (sets = new Map()));
    const list = sets.get(answer.type) ?? [];
    // The same record twice is one record.
    if (!list.some((x) => JSON.stringify(x.data) === JSON.stringify(answer.data))) list.push(answer);
    sets.set(answer.type, list);
    for (let name = owner; name.length > origin.length;) {
      const dot = name.indexOf(".");
      if (dot < 0) break;
      name = name.slice(dot + 1);
      interior.add(name);
    }
  }
  const soa = nodes.get(origin)?.get("SOA")?.[0];
  if (!soa) throw new Error(`zone ${origin} has no SOA record at its apex`);
  for (const [owner, sets] of nodes) {
    if (sets.has("CNAME") && sets.size > 1) {
      throw new Error(`${owner} has a CNAME and other records (${[...sets.keys()].filter((t) => t !== "CNAME").join(", ")}); a CNAME must stand alone`);
    }
  }
  const doubled = multipleCnames(nodes);
  if (doubled) throw new Error(`${doubled} has more than one CNAME record`);
  return { origin, soa: soa as Answer & { data: SoaData }, nodes, interior };
}

/** The first owner with several CNAMEs (a name can only be an alias of one name). */
function multipleCnames(nodes: Map<string, RRsets>): string | undefined {
  for (const [owner, sets] of nodes) if ((sets.get("CNAME")?.length ?? 0) > 1) return owner;
  return undefined;
}
