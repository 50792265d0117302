/**
 * `planDatacenter(spec, lock)` — the pure heart of Serverpark: placement, addresses,
 * published ports (what is published to whom; the Docker target's host ports are its own,
 * components/targets/docker/hostPorts.ts), DNS zones and the exposure matrix, from a validated spec. No Pulumi, no
 * I/O, no clock: the same spec and lock always give the same plan.
 */
import { MANAGEMENT_PORT, ROLE_INFO } from "../../contracts/roles";
import type { DatacenterSpec } from "../spec/schema";
import { SpecError, type SpecIssue } from "../spec/issues";
import { allocateAddresses, type AddressRequest } from "./addressing";
import { customerZones, planCustomers } from "./customers";
import { buildZones, extraRecord, zoneFor } from "./dns";
import { settingsOf } from "../spec/roleSettings";
import { HA_MONITOR_RESOURCES, isHaGroup, monitorId } from "./ha";
import { placeReplicas, replicaId } from "./placement";
import type {
  DatacenterPlan,
  DnsZone,
  ExposureEntry,
  PlanLock,
  PlannedHost,
  PlannedNetwork,
  PlannedReplica,
  PlannedService,
  PlanNote,
  PublishedPort,
} from "./types";

export * from "./types";
export { replicaId } from "./placement";
export { HA_MONITOR_RESOURCES, isHaGroup, monitorId } from "./ha";

export type PlanResult = { ok: true; plan: DatacenterPlan } | { ok: false; issues: SpecIssue[] };

export const EMPTY_LOCK: PlanLock = { version: 1, placement: {}, addresses: {} };

/** Networks a service's replicas attach to: the declared ones, then every management network. */
function attachedNetworks(spec: DatacenterSpec, svc: DatacenterSpec["services"][number]): string[] {
  const nets = [...svc.networks];
  if (svc.management) {
    for (const n of spec.networks) if (n.exposure === "management" && !nets.includes(n.id)) nets.push(n.id);
  }
  return nets;
}

export function tryPlanDatacenter(spec: DatacenterSpec, lock: PlanLock = EMPTY_LOCK): PlanResult {
  const placement = placeReplicas(spec, lock);
  const notes: PlanNote[] = [...placement.notes];
  const issues: SpecIssue[] = [...placement.issues];
  const managementNets = spec.networks.filter((n) => n.exposure === "management").map((n) => n.id);
  const internetNets = new Set(spec.networks.filter((n) => n.exposure === "internet").map((n) => n.id));
  const plans = new Map(spec.plans.map((p) => [p.id, p]));
  const pduFeed = new Map(spec.racks.flatMap((r) => r.pdus.map((p) => [p.id, p.feed] as const)));

  // Address requests in declaration order: host agents first, then replicas.
  const requests: AddressRequest[] = [];
  for (const h of spec.hosts) for (const net of managementNets) requests.push({ network: net, key: `host:${h.id}` });
  const attached = new Map(spec.services.map((s) => [s.id, attachedNetworks(spec, s)]));
  for (const svc of spec.services) {
    const ids = Array.from({ length: svc.replicas }, (_, i) => replicaId(svc.id, i));
    for (const id of isHaGroup(svc) ? [...ids, monitorId(svc.id)] : ids) {
      if (!placement.hostOf.has(id)) continue;
      for (const net of attached.get(svc.id)!) requests.push({ network: net, key: `replica:${id}` });
    }
  }
  const addressing = allocateAddresses(spec.networks, requests, lock);
  notes.push(...addressing.notes);
  issues.push(...addressing.issues);
  if (issues.length > 0) return { ok: false, issues };
  const addressOf = (net: string, key: string) => addressing.addresses.get(net)?.get(key);

  const hostsById = new Map(placement.hosts.map((h) => [h.spec.id, h]));
  const replicas: PlannedReplica[] = [];
  const services: PlannedService[] = spec.services.map((svc) => {
    const info = ROLE_INFO[svc.role];
    const plan = plans.get(svc.plan)!;
    const nets = attached.get(svc.id)!;
    const onInternet = svc.networks.some((n) => internetNets.has(n));
    const publishedPorts = info.ports.filter((p) => (p.publish === "internet" && onInternet) || p.publish === "operator");
    const managementNet = nets.find((n) => managementNets.includes(n));
    const ids: string[] = [];
    for (let i = 0; i < svc.replicas; i++) {
      const id = replicaId(svc.id, i);
      const hostId = placement.hostOf.get(id)!;
      const host = hostsById.get(hostId)!;
      const addresses: Record<string, string> = {};
      const key = `replica:${id}`;
      for (const net of nets) addresses[net] = addressOf(net, key)!;
      // Every replica its own objects (nothing shared between replicas).
      const published: PublishedPort[] = publishedPorts.map((p) => ({
        name: p.name,
        port: p.port,
        protocol: p.protocol,
        audience: p.publish as PublishedPort["audience"],
        ...(p.sameNumberOutside ? { sameNumber: true as const } : {}),
      }));
      const resources = { cpus: plan.cpus, memoryGb: plan.memoryGb, diskGb: plan.diskGb };
      // Two literals rather than a spread: the same keys in the same order, built directly.
      replicas.push(
        managementNet !== undefined
          ? {
              id,
              service: svc.id,
              role: svc.role,
              index: i,
              host: hostId,
              rack: host.spec.rack,
              feeds: host.feeds,
              resources,
              addresses,
              managementAddress: addresses[managementNet]!,
              published,
            }
          : { id, service: svc.id, role: svc.role, index: i, host: hostId, rack: host.spec.rack, feeds: host.feeds, resources, addresses, published },
      );
      ids.push(id);
    }
    // An HA group's monitor (./ha.ts): on the service's networks, small, publishing nothing.
    const monitor = isHaGroup(svc) ? monitorId(svc.id) : undefined;
    if (monitor !== undefined) {
      const host = hostsById.get(placement.hostOf.get(monitor)!)!;
      const addresses: Record<string, string> = {};
      for (const net of nets) addresses[net] = addressOf(net, `replica:${monitor}`)!;
      const managementNet = nets.find((n) => managementNets.includes(n));
      replicas.push({
        id: monitor,
        part: "monitor",
        service: svc.id,
        role: svc.role,
        index: svc.replicas,
        host: host.spec.id,
        rack: host.spec.rack,
        feeds: host.feeds,
        resources: { ...HA_MONITOR_RESOURCES },
        addresses,
        ...(managementNet !== undefined ? { managementAddress: addresses[managementNet]! } : {}),
        published: [],
      });
    }
    return {
      id: svc.id,
      role: svc.role,
      plan: svc.plan,
      minReplicas: svc.minReplicas ?? 1,
      redundant: svc.redundant ?? svc.replicas > 1,
      stateful: info.stateful,
      networks: nets,
      replicas: ids,
      ports: info.ports,
      settings: svc.settings,
      ...(svc.roleSettings !== undefined ? { roleSettings: svc.roleSettings } : {}),
      ...(svc.backup ? { backup: svc.backup } : {}),
      ...(monitor !== undefined ? { ha: { monitor } } : {}),
    };
  });

  const hosts: PlannedHost[] = placement.hosts.map((h) => {
    const addresses: Record<string, string> = {};
    for (const net of managementNets) addresses[net] = addressOf(net, `host:${h.spec.id}`)!;
    return {
      id: h.spec.id,
      rack: h.spec.rack,
      kind: h.spec.kind,
      psus: h.spec.psus.map((pdu) => ({ pdu, feed: pduFeed.get(pdu)! })),
      feeds: h.feeds,
      capacity: h.spec.capacity,
      allocated: { cpus: round(h.cpus), memoryGb: round(h.memoryGb), diskGb: round(h.diskGb) },
      cpuLimit: h.cpuLimit,
      powerWatts: h.spec.powerWatts,
      replicas: [...h.replicas],
      addresses,
    };
  });

  const networks: PlannedNetwork[] = spec.networks.map((n) => {
    const unsorted = [...(addressing.addresses.get(n.id) ?? new Map<string, string>())];
    const order = unsorted.map(([, address]) => ipOrder(address));
    const members = unsorted
      .map((_, i) => i)
      .sort((a, b) => order[a]! - order[b]! || a - b) // a stable sort by address
      .map((i) => ({ key: unsorted[i]![0], address: unsorted[i]![1] }));
    return { id: n.id, cidr: n.cidr, exposure: n.exposure, gateway: addressing.gateways.get(n.id)!, members };
  });

  const exposure: ExposureEntry[] = [];
  for (const svc of services) {
    const onInternet = svc.networks.some((n) => internetNets.has(n));
    for (const p of svc.ports) {
      exposure.push({
        service: svc.id,
        port: p.name,
        number: p.port,
        protocol: p.protocol,
        reachableFrom: svc.networks,
        publishedTo: p.publish === "internet" ? (onInternet ? "internet" : "none") : p.publish,
      });
    }
    exposure.push({
      service: svc.id,
      port: "management",
      number: MANAGEMENT_PORT,
      protocol: "tcp",
      reachableFrom: svc.networks.filter((n) => managementNets.includes(n)),
      publishedTo: "none",
    });
  }

  const customers = planCustomers(spec, services, internetNets);
  const zones = buildZones({ domain: spec.domain, hosts, networks, services, replicas });
  if (customers.length > 0) {
    const nameServers = zones[0]!.records.flatMap((r) => (r.type === "NS" && r.name === spec.domain ? [r.data] : []));
    zones.push(...customerZones(spec, customers, nameServers, services, replicas, networks));
  }
  const recordIssues = checkDnsRecords(spec, zones);
  if (recordIssues.length > 0) return { ok: false, issues: recordIssues };
  // Plain assignments (keys are spec ids, `<service>-<n>`, `host:…` and `replica:…`: never `__proto__`):
  // the same objects as Object.fromEntries without an entry array per key.
  const lockPlacement: Record<string, string> = {};
  for (const r of replicas) lockPlacement[r.id] = r.host;
  const lockAddresses: Record<string, Record<string, string>> = {};
  for (const n of networks) {
    const members: Record<string, string> = {};
    for (const m of n.members) members[m.key] = m.address;
    lockAddresses[n.id] = members;
  }
  const lockOut: PlanLock = { version: 1, placement: lockPlacement, addresses: lockAddresses };
  return {
    ok: true,
    plan: {
      datacenter: spec.name,
      domain: spec.domain,
      hosts,
      networks,
      services,
      replicas,
      zones,
      ...(customers.length > 0 ? { customers } : {}),
      ...(customers.some((c) => c.site.acme) && spec.certificates?.acme?.directoryUrl
        ? { acme: { ...spec.certificates.acme, directoryUrl: spec.certificates.acme.directoryUrl } }
        : {}),
      exposure,
      notes,
      lock: lockOut,
    },
  };
}

/** Like `tryPlanDatacenter`, but throws a `SpecError` with every problem. */
export function planDatacenter(spec: DatacenterSpec, lock?: PlanLock): DatacenterPlan {
  const result = tryPlanDatacenter(spec, lock);
  if (!result.ok) throw new SpecError(result.issues, "the datacenter cannot be planned; it");
  return result.plan;
}

/** Every record of a dns service's settings must fall in a zone of the plan (the views merge them in: components/model/dnsView.ts). */
function checkDnsRecords(spec: DatacenterSpec, zones: readonly DnsZone[]): SpecIssue[] {
  const issues: SpecIssue[] = [];
  spec.services.forEach((svc, s) => {
    if (svc.role !== "dns" || svc.roleSettings === undefined) return;
    settingsOf(svc, "dns").records.forEach((r, i) => {
      const name = extraRecord(r, spec.domain).name;
      if (!zoneFor(zones, name))
        issues.push({
          path: ["services", s, "settings", "records", i, "name"],
          message: `${name} is outside every zone (${zones.map((z) => z.origin).join(", ")})`,
        });
    });
  });
  return issues;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function ipOrder(address: string): number {
  let value = 0;
  let octet = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      value = value * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  return value * 256 + octet;
}
