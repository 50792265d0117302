/**
 * The power topology as dense, index-based arrays: utility feeds (with UPS and generator) →
 * PDUs in racks → host power supplies. The simulation and the N-1 analysis evaluate it
 * thousands of times, so everything is resolved to array indexes once, here.
 */
import type { DatacenterSpec } from "../spec/schema";
import type { ComponentId, ComponentKind, PowerComponent } from "./types";

export interface FeedNode {
  readonly id: string;
  readonly utilityKw: number;
  readonly ups?: { readonly capacityKw: number; readonly runtimeMinutes: number };
  readonly generator?: {
    readonly capacityKw: number;
    readonly startDelaySeconds: number;
    readonly fuelHours: number;
    readonly startFailureProbability: number;
  };
  /** Component indexes of the feed's parts (-1 when the feed has no UPS / generator). */
  readonly feedComponent: number;
  readonly utilityComponent: number;
  readonly upsComponent: number;
  readonly generatorComponent: number;
}

export interface PduNode {
  readonly id: string;
  readonly rack: number;
  readonly feed: number;
  readonly capacityKw: number;
  readonly component: number;
}

export interface RackNode {
  readonly id: string;
  readonly pdus: readonly number[];
  readonly hosts: readonly number[];
  readonly component: number;
}

export interface HostNode {
  readonly id: string;
  readonly rack: number;
  /** PDU index per power supply. */
  readonly pdus: readonly number[];
  readonly kw: number;
  readonly component: number;
}

export interface PowerTopology {
  readonly datacenter: string;
  readonly feeds: readonly FeedNode[];
  readonly pdus: readonly PduNode[];
  readonly racks: readonly RackNode[];
  readonly hosts: readonly HostNode[];
  /** Every failable component, in a stable order: feeds (feed, utility, ups, generator), PDUs, racks, hosts. */
  readonly components: readonly PowerComponent[];
  readonly componentIndex: ReadonlyMap<ComponentId, number>;
  readonly hostIndex: ReadonlyMap<string, number>;
}

export const componentId = (kind: ComponentKind, name: string): ComponentId => `${kind}:${name}`;

/** Builds the topology from a validated spec (cross-references are trusted). */
export function powerTopology(spec: DatacenterSpec): PowerTopology {
  const components: PowerComponent[] = [];
  const add = (kind: ComponentKind, name: string) => components.push({ id: componentId(kind, name), kind, name }) - 1;

  const feedIndex = new Map<string, number>();
  const feeds: FeedNode[] = spec.feeds.map((f, i) => {
    feedIndex.set(f.id, i);
    return {
      id: f.id,
      utilityKw: f.utility.capacityKw,
      ...(f.ups ? { ups: { ...f.ups } } : {}),
      ...(f.generator ? { generator: { ...f.generator } } : {}),
      feedComponent: add("feed", f.id),
      utilityComponent: add("utility", f.id),
      upsComponent: f.ups ? add("ups", f.id) : -1,
      generatorComponent: f.generator ? add("generator", f.id) : -1,
    };
  });

  const pduIndex = new Map<string, number>();
  const pdus: PduNode[] = [];
  spec.racks.forEach((r, ri) => {
    for (const p of r.pdus) {
      pduIndex.set(p.id, pdus.length);
      pdus.push({ id: p.id, rack: ri, feed: feedIndex.get(p.feed) ?? -1, capacityKw: p.capacityKw, component: add("pdu", p.id) });
    }
  });

  const rackIndex = new Map(spec.racks.map((r, i) => [r.id, i]));
  const rackHosts: number[][] = spec.racks.map(() => []);
  const rackComponents = spec.racks.map((r) => add("rack", r.id));
  const hostIndex = new Map<string, number>();
  const hosts: HostNode[] = spec.hosts.map((h, i) => {
    hostIndex.set(h.id, i);
    const rack = rackIndex.get(h.rack) ?? -1;
    rackHosts[rack]?.push(i);
    return {
      id: h.id,
      rack,
      pdus: h.psus.map((p) => pduIndex.get(p) ?? -1).filter((p) => p >= 0),
      kw: h.powerWatts / 1000,
      component: add("host", h.id),
    };
  });
  const racks: RackNode[] = spec.racks.map((r, i) => ({
    id: r.id,
    pdus: r.pdus.map((p) => pduIndex.get(p.id)!),
    hosts: rackHosts[i]!,
    component: rackComponents[i]!,
  }));

  return {
    datacenter: spec.name,
    feeds,
    pdus,
    racks,
    hosts,
    components,
    componentIndex: new Map(components.map((c, i) => [c.id, i])),
    hostIndex,
  };
}

/** Total kW drawn by all hosts at typical load. */
export function totalLoadKw(topology: PowerTopology): number {
  return topology.hosts.reduce((sum, h) => sum + h.kw, 0);
}
