/**
 * Generated datacenters of any size, for property tests and benchmarks: racks of ten hosts
 * on two feeds, mostly dual-fed virtualization hosts with some dedicated ones, and services
 * of every role scaled with the host count. Deterministic for given sizes.
 */
import type { DatacenterSpecInput } from "../../components/spec/schema";
import { ROLES } from "../../contracts/roles";

export interface GenerateOptions {
  readonly hosts: number;
  /** Number of services; default hosts / 2 (at least 8). */
  readonly services?: number;
  readonly name?: string;
}

export function generateSpec(options: GenerateOptions): DatacenterSpecInput {
  const hostCount = options.hosts;
  const rackCount = Math.max(1, Math.ceil(hostCount / 10));
  const racks = Array.from({ length: rackCount }, (_, r) => ({
    id: `r${r + 1}`,
    pdus: [
      { id: `r${r + 1}-pdu-a`, feed: "A", capacityKw: 11 },
      { id: `r${r + 1}-pdu-b`, feed: "B", capacityKw: 11 },
    ],
  }));
  const hosts = Array.from({ length: hostCount }, (_, i) => {
    const rack = `r${Math.floor(i / 10) + 1}`;
    const dedicated = i % 10 >= 8;
    return {
      id: `h${i + 1}`,
      rack,
      kind: dedicated ? ("dedicated" as const) : ("virtualization" as const),
      psus: dedicated && i % 2 === 0 ? [`${rack}-pdu-a`] : [`${rack}-pdu-a`, `${rack}-pdu-b`],
      capacity: dedicated ? { cpus: 8, memoryGb: 32, diskGb: 1000 } : { cpus: 32, memoryGb: 128, diskGb: 4000 },
      powerWatts: dedicated ? 250 : 450,
    };
  });
  const dedicatedHosts = hosts.filter((h) => h.kind === "dedicated").length;
  const serviceCount = options.services ?? Math.max(8, Math.floor(hostCount / 2));
  let dedicatedUsed = 0;
  const services = Array.from({ length: serviceCount }, (_, i) => {
    const role = ROLES[i % ROLES.length]!;
    const wantsDedicated = role === "db" && dedicatedUsed < dedicatedHosts;
    if (wantsDedicated) dedicatedUsed += 1;
    // mail and file keep their data per replica (components/spec/redundancy.ts): one each.
    const single = wantsDedicated || role === "mail" || role === "file";
    const replicas = single ? 1 : Math.min(1 + (i % 3), hostCount - dedicatedHosts);
    return {
      id: `${role}${i}`,
      role,
      replicas: Math.max(1, replicas),
      plan: wantsDedicated ? "ded-m" : i % 4 === 0 ? "vps-m" : "vps-s",
      networks: role === "db" || role === "file" || role === "web" ? ["private"] : role === "noc" ? ["mgmt"] : ["public", "private"],
    };
  });
  return {
    name: options.name ?? `gen${hostCount}`,
    domain: "gen.park.test",
    feeds: ["A", "B"].map((id) => ({
      id,
      utility: { capacityKw: 20 * rackCount },
      ups: { capacityKw: 15 * rackCount, runtimeMinutes: 10 },
      generator: { capacityKw: 20 * rackCount, startDelaySeconds: 15, fuelHours: 24 },
    })),
    racks,
    hosts,
    plans: [
      { id: "vps-s", kind: "vps", cpus: 1, memoryGb: 1, diskGb: 20 },
      { id: "vps-m", kind: "vps", cpus: 2, memoryGb: 4, diskGb: 80 },
      { id: "ded-m", kind: "dedicated", cpus: 8, memoryGb: 32, diskGb: 1000 },
    ],
    networks: [
      { id: "public", cidr: "10.40.0.0/16", exposure: "internet" },
      { id: "private", cidr: "10.41.0.0/16", exposure: "internal" },
      { id: "mgmt", cidr: "10.43.0.0/16", exposure: "management" },
    ],
    services,
    docker: { basePort: 10000, operatorCidr: "10.44.0.0/24" },
  };
}
