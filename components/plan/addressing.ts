/**
 * Address allocation on every network. Members are host agents (on management networks) and
 * replicas (on their service's networks). The first address of a network is its gateway;
 * members start at offset 10 on networks of /26 or larger (room for gateways and floating
 * addresses), at offset 2 on smaller ones. Locked addresses are kept; new members take the
 * lowest free address, in declaration order, so adding members never renumbers others.
 */
import { cidrContains, nthAddress, parseCidr, parseIp, type Cidr } from "../net/ipv4";
import type { NetworkSpec } from "../spec/schema";
import type { SpecIssue } from "../spec/issues";
import type { PlanLock, PlanNote } from "./types";

export interface AddressRequest {
  readonly network: string;
  /** `host:h1` or `replica:www-0`. */
  readonly key: string;
}

export interface Addressing {
  /** network id → member key → address */
  readonly addresses: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly gateways: ReadonlyMap<string, string>;
  readonly notes: PlanNote[];
  readonly issues: SpecIssue[];
}

export function firstMemberOffset(cidr: Cidr): number {
  return cidr.size >= 64 ? 10 : 2;
}

export function allocateAddresses(networks: readonly NetworkSpec[], requests: readonly AddressRequest[], lock: PlanLock | undefined): Addressing {
  const addresses = new Map<string, Map<string, string>>();
  const gateways = new Map<string, string>();
  const notes: PlanNote[] = [];
  const issues: SpecIssue[] = [];
  const byNet = new Map<string, AddressRequest[]>();
  for (const r of requests) {
    const list = byNet.get(r.network);
    if (list) list.push(r);
    else byNet.set(r.network, [r]);
  }

  networks.forEach((net, n) => {
    const cidr = parseCidr(net.cidr) as Cidr; // validated earlier
    const first = firstMemberOffset(cidr);
    const last = cidr.size - 2; // broadcast is size - 1
    gateways.set(net.id, nthAddress(cidr, 1));
    const taken = new Set<number>();
    const assigned = new Map<string, string>();
    const wanted = byNet.get(net.id) ?? [];
    const locked = lock?.addresses[net.id];

    for (const req of locked ? wanted : []) {
      const text = locked![req.key];
      if (text === undefined) continue;
      const ip = parseIp(text);
      const offset = ip === undefined ? -1 : ip - cidr.base;
      if (ip === undefined || !cidrContains(cidr, ip) || offset < first || offset > last || taken.has(offset)) {
        notes.push({
          path: ["networks", n, "cidr"],
          message: `${req.key} loses its address ${text} on ${net.id} (no longer valid in ${net.cidr}); it gets a new one`,
        });
        continue;
      }
      taken.add(offset);
      assigned.set(req.key, text);
    }
    let cursor = first;
    for (const req of wanted) {
      if (assigned.size > 0 && assigned.has(req.key)) continue;
      while (taken.has(cursor)) cursor++;
      if (cursor > last) {
        issues.push({
          path: ["networks", n, "cidr"],
          message: `${net.cidr} has room for ${last - first + 1} members, but ${wanted.length} need an address on ${net.id}; use a larger block`,
        });
        break;
      }
      taken.add(cursor);
      assigned.set(req.key, nthAddress(cidr, cursor));
    }
    addresses.set(net.id, assigned);
  });
  return { addresses, gateways, notes, issues };
}
