/**
 * A generated large datacenter for benchmarks: `hosts` hosts in racks of 20, two PDUs per
 * rack on feeds A and B, every tenth host single-corded, and services of 3 replicas
 * (minimum 2) spread over the hosts.
 */
import { planDatacenter } from "../../components/plan";
import { parseSpec } from "../../components/spec/validate";
import type { DatacenterSpecInput } from "../../components/spec/schema";

export function generatedDatacenter(hosts: number, services = Math.floor(hosts / 10)) {
  const rackCount = Math.ceil(hosts / 20);
  const feed = (id: string) => ({
    id,
    utility: { capacityKw: hosts * 0.5 },
    ups: { capacityKw: hosts * 0.5, runtimeMinutes: 10 },
    generator: { capacityKw: hosts * 0.5, startDelaySeconds: 15, fuelHours: 48, startFailureProbability: 0.02 },
  });
  const input: DatacenterSpecInput = {
    name: "big",
    domain: "big.park.test",
    feeds: [feed("A"), feed("B")],
    racks: Array.from({ length: rackCount }, (_, r) => ({
      id: `r${r}`,
      pdus: [
        { id: `r${r}-a`, feed: "A", capacityKw: 11 },
        { id: `r${r}-b`, feed: "B", capacityKw: 11 },
      ],
    })),
    hosts: Array.from({ length: hosts }, (_, h) => {
      const r = Math.floor(h / 20);
      return {
        id: `h${h}`,
        rack: `r${r}`,
        kind: "virtualization" as const,
        psus: h % 10 === 9 ? [`r${r}-a`] : [`r${r}-a`, `r${r}-b`],
        capacity: { cpus: 32, memoryGb: 128, diskGb: 4000 },
        powerWatts: 400,
      };
    }),
    plans: [{ id: "small", kind: "vps", cpus: 1, memoryGb: 1, diskGb: 10 }],
    networks: [
      { id: "private", cidr: "10.40.0.0/16", exposure: "internal" },
      { id: "mgmt", cidr: "10.41.0.0/16", exposure: "management" },
    ],
    services: Array.from({ length: services }, (_, s) => ({
      id: `s${s}`,
      role: "web" as const,
      replicas: 3,
      minReplicas: 2,
      plan: "small",
      networks: ["private"],
      management: false,
    })),
  };
  const spec = parseSpec(input);
  return { spec, plan: planDatacenter(spec) };
}
