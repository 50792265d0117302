/**
 * Checks a spec and its plan against what Hetzner Cloud can do, and resolves the target's
 * decisions per host (location, server type, placement group). Pure: the Pulumi program calls
 * it before registering any resource, so every problem is reported at once with its config
 * path, and tests call it directly.
 */
import { isIPv6 } from "node:net";
import { parseCidr, parseIp, type Cidr } from "../../net/ipv4";
import type { DatacenterPlan, PlannedHost } from "../../plan";
import type { SpecIssue } from "../../spec/issues";
import type { DatacenterSpec } from "../../spec/schema";
import { fitsType, LIMITS, LOCATION_BY_NAME, LOCATIONS, pickServerType, SERVER_TYPE_BY_NAME, SERVER_TYPES, type ServerType } from "./catalog";
import type { HetznerSettings } from "../../spec/hetzner";
import { checkLoadBalancer, type LoadBalancerDecision } from "./loadBalancer";
import { checkSitesPull } from "./sites";

/** Hetzner networks must use private address space (RFC 1918). */
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((c) => parseCidr(c) as Cidr);

export interface HetznerHostDecision {
  readonly host: string;
  readonly location: string;
  readonly serverType: ServerType;
  /** Key of the spread placement group the server joins (`feed-a-b`, `rack-r1`). */
  readonly placementGroup: string;
  readonly backups: boolean;
  /** Planned networks the server attaches to (management networks and its replicas' networks). */
  readonly networks: readonly string[];
}

export interface HetznerResolution {
  readonly settings: HetznerSettings;
  readonly networkZone: string;
  readonly hosts: ReadonlyMap<string, HetznerHostDecision>;
  /** Where the load balancer sits and what it forwards, when it is enabled. */
  readonly loadBalancer?: LoadBalancerDecision;
}

export type HetznerCheck = { ok: true; resolution: HetznerResolution } | { ok: false; issues: SpecIssue[] };

const oneOf = (names: Iterable<string>) => `expected one of: ${[...names].join(", ")}`;
const describe = (t: ServerType) => `${t.name} (${t.cores} ${t.cpu} vCPUs, ${t.memoryGb} GB, ${t.diskGb} GB disk)`;

/** "203.0.113.0/24" or "2001:db8::/48"; prefix 0 is refused by the caller, not here. */
export function parseAdminCidr(text: string): { prefix: number } | { error: string } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return { error: `"${text}" is not in CIDR notation (expected e.g. 203.0.113.10/32)` };
  const prefix = Number(m[2]);
  if (parseIp(m[1]!) !== undefined) return prefix <= 32 ? { prefix } : { error: `prefix /${prefix} is out of range for IPv4` };
  if (isIPv6(m[1]!)) return prefix <= 128 ? { prefix } : { error: `prefix /${prefix} is out of range for IPv6` };
  return { error: `"${m[1]}" is not an IP address` };
}

/** The planned networks a host's server must join: its own (management) and every replica's. */
export function hostNetworks(plan: DatacenterPlan, host: PlannedHost): string[] {
  const wanted = new Set(Object.keys(host.addresses));
  for (const id of host.replicas) for (const net of Object.keys(plan.replicas.find((r) => r.id === id)!.addresses)) wanted.add(net);
  return plan.networks.map((n) => n.id).filter((n) => wanted.has(n));
}

function placementKey(settings: HetznerSettings, host: PlannedHost): string {
  return settings.placement === "rack" ? `rack-${host.rack}` : `feed-${host.feeds.map((f) => f.toLowerCase()).join("-")}`;
}

export function checkHetzner(spec: DatacenterSpec, plan: DatacenterPlan): HetznerCheck {
  const issues: SpecIssue[] = [];
  const h = spec.hetzner;
  if (!h)
    return {
      ok: false,
      issues: [
        { path: ["hetzner"], message: "is required for the hetzner target: set at least hetzner.sshKey and hetzner.registry (see stacks/Pulumi.hetzner.yaml)" },
      ],
    };

  // Locations: known, allowed (data residency), one network zone.
  const checkLocation = (name: string, path: (string | number)[]) => {
    if (!LOCATION_BY_NAME.has(name)) issues.push({ path, message: `unknown Hetzner location "${name}"; ${oneOf(LOCATIONS.map((l) => l.name))}` });
    else if (!h.allowedLocations.includes(name)) {
      issues.push({
        path,
        message: `location "${name}" (${LOCATION_BY_NAME.get(name)!.country}) is not in hetzner.allowedLocations [${h.allowedLocations.join(", ")}]; data must stay there`,
      });
    }
  };
  h.allowedLocations.forEach((l, i) => {
    if (!LOCATION_BY_NAME.has(l))
      issues.push({ path: ["hetzner", "allowedLocations", i], message: `unknown Hetzner location "${l}"; ${oneOf(LOCATIONS.map((x) => x.name))}` });
  });
  checkLocation(h.location, ["hetzner", "location"]);
  const feeds = new Set(spec.feeds.map((f) => f.id));
  for (const [feed, loc] of Object.entries(h.feedLocations)) {
    if (!feeds.has(feed)) issues.push({ path: ["hetzner", "feedLocations", feed], message: `unknown feed "${feed}"; ${oneOf(feeds)}` });
    checkLocation(loc, ["hetzner", "feedLocations", feed]);
  }
  const used = new Set([h.location, ...Object.values(h.feedLocations)].filter((l) => LOCATION_BY_NAME.has(l)));
  const zones = new Set([...used].map((l) => LOCATION_BY_NAME.get(l)!.networkZone));
  if (zones.size > 1) {
    issues.push({
      path: ["hetzner", "feedLocations"],
      message: `locations ${[...used].join(", ")} span network zones ${[...zones].join(", ")}; private networks reach one zone only`,
    });
  }

  // Access: an SSH key, a registry, admin CIDRs that are not the whole internet.
  if (!h.sshKey || (!h.sshKey.name && !h.sshKey.publicKey)) {
    issues.push({
      path: ["hetzner", "sshKey"],
      message: "is required: give the name of an SSH key in the Hetzner project (sshKey.name) or a public key to upload (sshKey.publicKey)",
    });
  } else if (h.sshKey.name && h.sshKey.publicKey) {
    issues.push({ path: ["hetzner", "sshKey"], message: "set either sshKey.name (an existing key) or sshKey.publicKey (a key to upload), not both" });
  }
  if (!h.registry)
    issues.push({
      path: ["hetzner", "registry"],
      message: "is required: the servers pull the role images from it (server, namespace, username; the password is the secret serverpark:registryPassword)",
    });
  h.adminCidrs.forEach((c, i) => {
    const parsed = parseAdminCidr(c);
    if ("error" in parsed) issues.push({ path: ["hetzner", "adminCidrs", i], message: parsed.error });
    else if (parsed.prefix === 0)
      issues.push({
        path: ["hetzner", "adminCidrs", i],
        message: `${c} is the whole internet; management and operator ports are only opened to named admin networks`,
      });
  });
  if (h.adminCidrs.length === 0) {
    const noc = plan.replicas.some((r) => r.published.some((p) => p.audience === "operator")) ? " and operator ports (the NOC page)" : "";
    issues.push({
      path: ["hetzner", "adminCidrs"],
      message: `is empty, but the deployment reaches every server over SSH${noc}, which the firewall opens to these networks only; list the networks \`pulumi up\` and the operators run from`,
    });
  }
  const loadBalancer = checkLoadBalancer(spec, plan, issues);

  // Networks become Hetzner networks: private address space only.
  spec.networks.forEach((net, n) => {
    const cidr = parseCidr(net.cidr);
    if ("error" in cidr) return; // reported by the spec validation
    if (!PRIVATE_RANGES.some((r) => r.base <= cidr.base && cidr.base + cidr.size <= r.base + r.size)) {
      issues.push({
        path: ["networks", n, "cidr"],
        message: `${net.cidr} is not private address space; Hetzner networks need a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16`,
      });
    }
  });

  // Server types: overrides must be known and big enough; otherwise the smallest that fits.
  const hostIndex = new Map(spec.hosts.map((x, i) => [x.id, i]));
  for (const [hostId, typeName] of Object.entries(h.serverTypes)) {
    if (!hostIndex.has(hostId)) issues.push({ path: ["hetzner", "serverTypes", hostId], message: `unknown host "${hostId}"; ${oneOf(hostIndex.keys())}` });
    if (!SERVER_TYPE_BY_NAME.has(typeName))
      issues.push({ path: ["hetzner", "serverTypes", hostId], message: `unknown server type "${typeName}"; ${oneOf(SERVER_TYPES.map((t) => t.name))}` });
  }
  const decisions = new Map<string, HetznerHostDecision>();
  const groups = new Map<string, string[]>();
  const backupServices = new Set(plan.services.filter((s) => s.backup).map((s) => s.id));
  for (const host of plan.hosts) {
    const i = hostIndex.get(host.id)!;
    const location = h.feedLocations[host.feeds[0]!] ?? h.location;
    let type: ServerType | undefined;
    const override = h.serverTypes[host.id];
    if (override !== undefined) {
      type = SERVER_TYPE_BY_NAME.get(override);
      if (type && !fitsType(type, host.capacity)) {
        issues.push({
          path: ["hetzner", "serverTypes", host.id],
          message: `${describe(type)} is smaller than host ${host.id}'s capacity (${host.capacity.cpus} cpus, ${host.capacity.memoryGb} GB, ${host.capacity.diskGb} GB disk)`,
        });
      } else if (type && host.kind === "dedicated" && type.cpu !== "dedicated") {
        issues.push({ path: ["hetzner", "serverTypes", host.id], message: `host ${host.id} is dedicated, but ${type.name} has shared vCPUs; use a ccx type` });
      }
    } else {
      type = pickServerType(host.kind, host.capacity);
      if (!type) {
        const largest = SERVER_TYPES.filter((t) => host.kind === "virtualization" || t.cpu === "dedicated");
        issues.push({
          path: ["hosts", i, "capacity"],
          message: `no Hetzner ${host.kind === "dedicated" ? "dedicated-vCPU " : ""}server type offers ${host.capacity.cpus} cpus, ${host.capacity.memoryGb} GB and ${host.capacity.diskGb} GB disk; the largest per dimension are ${Math.max(...largest.map((t) => t.cores))} cpus, ${Math.max(...largest.map((t) => t.memoryGb))} GB, ${Math.max(...largest.map((t) => t.diskGb))} GB disk (stateful data lives on volumes, so local disk can be small)`,
        });
      }
    }
    const networks = hostNetworks(plan, host);
    if (networks.length > LIMITS.networksPerServer) {
      issues.push({
        path: ["hosts", i],
        message: `host ${host.id} would join ${networks.length} networks (${networks.join(", ")}); a Hetzner server can join at most ${LIMITS.networksPerServer}`,
      });
    }
    const group = placementKey(h, host);
    groups.set(group, [...(groups.get(group) ?? []), host.id]);
    const stateful = host.replicas.some((id) => backupServices.has(plan.replicas.find((r) => r.id === id)!.service));
    const backups = h.backups === "all" || (h.backups === "stateful" && stateful);
    if (type) decisions.set(host.id, { host: host.id, location, serverType: type, placementGroup: group, backups, networks });
  }
  for (const [group, members] of groups) {
    if (members.length > LIMITS.placementGroupServers) {
      issues.push({
        path: ["hetzner", "placement"],
        message: `placement group ${group} would hold ${members.length} servers (${members.join(", ")}); Hetzner allows ${LIMITS.placementGroupServers} per spread group — use placement "rack" or split the feed`,
      });
    }
  }

  // Public ports: every server has one public IPv4, so a port can be published once per host.
  const serviceIndex = new Map(spec.services.map((s, i) => [s.id, i]));
  for (const host of plan.hosts) {
    const seen = new Map<string, string>();
    for (const id of host.replicas) {
      const r = plan.replicas.find((x) => x.id === id)!;
      for (const p of r.published) {
        const key = `${p.port}/${p.protocol}`;
        const other = seen.get(key);
        if (other !== undefined && other !== r.id) {
          issues.push({
            path: ["services", serviceIndex.get(r.service)!],
            message: `replica ${r.id} and ${other} both publish ${key} on host ${host.id}'s public address; place them on different hosts`,
          });
        }
        seen.set(key, r.id);
      }
    }
  }

  // Volumes: stateful replicas keep their data on a volume sized by their plan.
  for (const svc of plan.services.filter((s) => s.stateful)) {
    const p = spec.plans.findIndex((x) => x.id === svc.plan);
    if (spec.plans[p]!.diskGb > LIMITS.volumeMaxGb) {
      issues.push({
        path: ["plans", p, "diskGb"],
        message: `${spec.plans[p]!.diskGb} GB is more than the largest Hetzner volume (${LIMITS.volumeMaxGb} GB), which holds ${svc.id}'s data`,
      });
    }
  }

  // Customers' sites: the web replicas pull them from the file replicas' management port (sites.ts).
  issues.push(...checkSitesPull(plan));

  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    resolution: {
      settings: h,
      networkZone: [...zones][0] ?? LOCATION_BY_NAME.get(h.location)!.networkZone,
      hosts: decisions,
      ...(loadBalancer ? { loadBalancer } : {}),
    },
  };
}

/** Size of a stateful replica's volume: its plan's disk, within Hetzner's volume limits. */
export function volumeSizeGb(diskGb: number): number {
  return Math.min(LIMITS.volumeMaxGb, Math.max(LIMITS.volumeMinGb, Math.ceil(diskGb)));
}
