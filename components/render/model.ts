/**
 * What the datacenter drawing needs, and nothing more: feeds, racks with their PDUs,
 * hosts with the PDUs their power supplies plug into, and the service replicas on each
 * host. Built from a plan (`serverpark diagram`) or from a replica's runtime config (the
 * NOC, which has no plan, only the config every replica receives), so both draw the same.
 */
import type { DatacenterPlan } from "../plan";

export interface DiagramPsu {
  readonly pdu: string;
  readonly feed: string;
}

export interface DiagramHost {
  readonly id: string;
  readonly rack: string;
  readonly kind?: string;
  readonly psus: readonly DiagramPsu[];
  /** Replica ids on this host, in placement order. */
  readonly replicas: readonly string[];
}

export interface DiagramReplica {
  readonly id: string;
  readonly service: string;
  readonly role: string;
  readonly host: string;
}

export interface DiagramService {
  readonly id: string;
  readonly role: string;
  readonly replicas: readonly string[];
}

export interface DiagramModel {
  readonly datacenter: string;
  readonly domain: string;
  readonly hosts: readonly DiagramHost[];
  readonly replicas: readonly DiagramReplica[];
  readonly services: readonly DiagramService[];
}

export function diagramModelFromPlan(plan: DatacenterPlan): DiagramModel {
  return {
    datacenter: plan.datacenter,
    domain: plan.domain,
    hosts: plan.hosts.map((h) => ({
      id: h.id,
      rack: h.rack,
      kind: h.kind,
      psus: h.psus.map((p) => ({ pdu: p.pdu, feed: p.feed })),
      replicas: [...h.replicas],
    })),
    replicas: plan.replicas.map((r) => ({ id: r.id, service: r.service, role: r.role, host: r.host })),
    services: plan.services.map((s) => ({ id: s.id, role: s.role, replicas: [...s.replicas] })),
  };
}

/** Minimal shape of the runtime config the NOC receives (components/model/runtimeConfig.ts). */
export interface RuntimeConfigLike {
  readonly datacenter: string;
  readonly domain: string;
  readonly directory: readonly { readonly id: string; readonly role: string; readonly replicas: readonly { readonly id: string; readonly host: string }[] }[];
  readonly hosts: readonly {
    readonly id: string;
    readonly rack: string;
    readonly kind?: string;
    readonly feeds: readonly string[];
    readonly psus?: readonly DiagramPsu[];
  }[];
}

export function diagramModelFromRuntimeConfig(config: RuntimeConfigLike): DiagramModel {
  const replicas = config.directory.flatMap((s) => s.replicas.map((r) => ({ id: r.id, service: s.id, role: s.role, host: r.host })));
  return {
    datacenter: config.datacenter,
    domain: config.domain,
    hosts: config.hosts.map((h) => ({
      id: h.id,
      rack: h.rack,
      ...(h.kind ? { kind: h.kind } : {}),
      // Older configs carry only the feeds; draw one anonymous PDU per feed then.
      psus: h.psus ? h.psus.map((p) => ({ pdu: p.pdu, feed: p.feed })) : h.feeds.map((f) => ({ pdu: `${h.rack}-feed-${f}`, feed: f })),
      replicas: replicas.filter((r) => r.host === h.id).map((r) => r.id),
    })),
    replicas,
    services: config.directory.map((s) => ({ id: s.id, role: s.role, replicas: s.replicas.map((r) => r.id) })),
  };
}
