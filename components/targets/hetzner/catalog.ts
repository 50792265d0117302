/**
 * What Hetzner Cloud offers, as far as this target needs it: locations with their network
 * zone and country, and the server types a host can become. Kept as data here (not fetched
 * from the API) so that planning and validation stay offline and deterministic; the README
 * lists the same tables. Update both when Hetzner changes its catalogue.
 */

export interface HetznerLocation {
  readonly name: string;
  readonly city: string;
  /** ISO 3166 country code: what data-residency rules are written against. */
  readonly country: string;
  /** Private networks and load balancers span one network zone. */
  readonly networkZone: string;
}

export const LOCATIONS: readonly HetznerLocation[] = [
  { name: "fsn1", city: "Falkenstein", country: "DE", networkZone: "eu-central" },
  { name: "nbg1", city: "Nuremberg", country: "DE", networkZone: "eu-central" },
  { name: "hel1", city: "Helsinki", country: "FI", networkZone: "eu-central" },
  { name: "ash", city: "Ashburn, VA", country: "US", networkZone: "us-east" },
  { name: "hil", city: "Hillsboro, OR", country: "US", networkZone: "us-west" },
  { name: "sin", city: "Singapore", country: "SG", networkZone: "ap-southeast" },
];

export const LOCATION_BY_NAME: ReadonlyMap<string, HetznerLocation> = new Map(LOCATIONS.map((l) => [l.name, l]));

export type CpuKind = "shared" | "dedicated";

export interface ServerType {
  readonly name: string;
  readonly cpu: CpuKind;
  readonly cores: number;
  readonly memoryGb: number;
  /** Local NVMe disk. */
  readonly diskGb: number;
  /** Monthly price in EUR before VAT in the German and Finnish locations (what `serverpark plan hetzner` adds up). */
  readonly eurMonth: number;
}

/** Smallest first within each kind: `pickServerType` relies on this order. */
export const SERVER_TYPES: readonly ServerType[] = [
  { name: "cx22", cpu: "shared", cores: 2, memoryGb: 4, diskGb: 40, eurMonth: 3.79 },
  { name: "cx32", cpu: "shared", cores: 4, memoryGb: 8, diskGb: 80, eurMonth: 6.8 },
  { name: "cx42", cpu: "shared", cores: 8, memoryGb: 16, diskGb: 160, eurMonth: 16.4 },
  { name: "cx52", cpu: "shared", cores: 16, memoryGb: 32, diskGb: 320, eurMonth: 32.4 },
  { name: "ccx13", cpu: "dedicated", cores: 2, memoryGb: 8, diskGb: 80, eurMonth: 12.49 },
  { name: "ccx23", cpu: "dedicated", cores: 4, memoryGb: 16, diskGb: 160, eurMonth: 24.49 },
  { name: "ccx33", cpu: "dedicated", cores: 8, memoryGb: 32, diskGb: 240, eurMonth: 48.49 },
  { name: "ccx43", cpu: "dedicated", cores: 16, memoryGb: 64, diskGb: 360, eurMonth: 96.49 },
  { name: "ccx53", cpu: "dedicated", cores: 32, memoryGb: 128, diskGb: 600, eurMonth: 192.49 },
  { name: "ccx63", cpu: "dedicated", cores: 48, memoryGb: 192, diskGb: 960, eurMonth: 288.49 },
];

export const SERVER_TYPE_BY_NAME: ReadonlyMap<string, ServerType> = new Map(SERVER_TYPES.map((t) => [t.name, t]));

export interface LoadBalancerType {
  readonly name: string;
  /** Listening ports (services) one balancer may have. */
  readonly maxServices: number;
  /** Servers one balancer may forward to. */
  readonly maxTargets: number;
  readonly eurMonth: number;
}

export const LOAD_BALANCER_TYPES: readonly LoadBalancerType[] = [
  { name: "lb11", maxServices: 5, maxTargets: 25, eurMonth: 5.39 },
  { name: "lb21", maxServices: 15, maxTargets: 75, eurMonth: 16.4 },
  { name: "lb31", maxServices: 30, maxTargets: 150, eurMonth: 32.9 },
];

export const LOAD_BALANCER_TYPE_BY_NAME: ReadonlyMap<string, LoadBalancerType> = new Map(LOAD_BALANCER_TYPES.map((t) => [t.name, t]));

/** Other monthly prices in EUR before VAT (German and Finnish locations). */
export const PRICES = {
  /** A primary IPv4 address (every server has one, kept or not). */
  ipv4EurMonth: 0.5,
  /** Volume storage, per GB. */
  volumeEurGbMonth: 0.044,
  /** Server backups cost this share of the server's price. */
  backupShare: 0.2,
} as const;

/** Hetzner's limits that shape the mapping (documented in the Hetzner Cloud API reference). */
export const LIMITS = {
  /** Servers in one spread placement group. */
  placementGroupServers: 10,
  /** Private networks one server can be attached to. */
  networksPerServer: 3,
  /** Bytes of cloud-init user data per server. */
  userDataBytes: 32 * 1024,
  /** Smallest and largest volume, GB. */
  volumeMinGb: 10,
  volumeMaxGb: 10240,
} as const;

export interface Capacity {
  readonly cpus: number;
  readonly memoryGb: number;
  readonly diskGb: number;
}

export function fitsType(type: ServerType, capacity: Capacity): boolean {
  return type.cores >= capacity.cpus && type.memoryGb >= capacity.memoryGb && type.diskGb >= capacity.diskGb;
}

/**
 * The smallest server type that offers a host's whole capacity. Dedicated hosts (one owner per
 * machine) get dedicated-vCPU types only; virtualization hosts prefer shared vCPUs and move to
 * dedicated ones only when no shared type is big enough. "Smallest" is the table order above,
 * which is also price order within a kind.
 */
export function pickServerType(kind: "dedicated" | "virtualization", capacity: Capacity): ServerType | undefined {
  const order: CpuKind[] = kind === "dedicated" ? ["dedicated"] : ["shared", "dedicated"];
  for (const cpu of order) {
    const found = SERVER_TYPES.find((t) => t.cpu === cpu && fitsType(t, capacity));
    if (found) return found;
  }
  return undefined;
}
