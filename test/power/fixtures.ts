/**
 * Small hand-made datacenters for the power tests: every number in them is chosen so the
 * expected timelines can be worked out on paper.
 */
import { planDatacenter } from "../../components/plan";
import { parseSpec } from "../../components/spec/validate";
import type { DatacenterSpec, DatacenterSpecInput } from "../../components/spec/schema";
import type { DatacenterPlan } from "../../components/plan/types";

type FeedInput = DatacenterSpecInput["feeds"][number];
type HostInput = DatacenterSpecInput["hosts"][number];
type RackInput = DatacenterSpecInput["racks"][number];

export interface Fixture {
  readonly spec: DatacenterSpec;
  readonly plan: DatacenterPlan;
}

/** A datacenter with the given feeds, racks and hosts and (unless given) one single-replica service `svc`. */
export function datacenter(parts: {
  feeds: FeedInput[];
  racks: RackInput[];
  hosts: Omit<HostInput, "kind" | "capacity">[];
  services?: DatacenterSpecInput["services"];
  reliability?: DatacenterSpecInput["reliability"];
}): Fixture {
  const input: DatacenterSpecInput = {
    name: "t",
    domain: "t.park.test",
    feeds: parts.feeds,
    racks: parts.racks,
    hosts: parts.hosts.map((h) => ({ kind: "virtualization", capacity: { cpus: 8, memoryGb: 32, diskGb: 500 }, ...h })),
    plans: [{ id: "small", kind: "vps", cpus: 1, memoryGb: 1, diskGb: 10 }],
    networks: [
      { id: "private", cidr: "10.42.1.0/24", exposure: "internal" },
      { id: "mgmt", cidr: "10.42.2.0/24", exposure: "management" },
    ],
    services: parts.services ?? [{ id: "svc", role: "web", replicas: 1, plan: "small", networks: ["private"], management: false }],
    // Hand-computed expectations leave out UPS losses unless a test asks for them.
    reliability: { upsIdleLossFraction: 0, ...parts.reliability },
  };
  const spec = parseSpec(input);
  return { spec, plan: planDatacenter(spec) };
}

/** One feed A (10 kW utility), one rack r1 with PDU p-a, one host h1 drawing 5 kW. */
export function oneFeed(feed: Partial<FeedInput> = {}): Fixture {
  return datacenter({
    feeds: [{ id: "A", utility: { capacityKw: 10 }, ...feed }],
    racks: [{ id: "r1", pdus: [{ id: "p-a", feed: "A", capacityKw: 10 }] }],
    hosts: [{ id: "h1", rack: "r1", psus: ["p-a"], powerWatts: 5000 }],
  });
}
