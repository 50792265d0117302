/**
 * A.5.23 Information security for use of cloud services — data residency: on Hetzner Cloud,
 * every server, volume, IP, load balancer and subnet sits in the region the stack declares.
 *
 * Which region: the policy config `region` (an auditor's pin, e.g. "de"), else the stack tag
 * `serverpark:region`, else the locations the stack itself declares
 * (`serverpark:datacenter.hetzner.allowedLocations`, which the `Datacenter` model carries),
 * else Germany (fsn1, nbg1). A stack policy, because the declaration lives in the model.
 */
import type { PolicyResource, StackValidationArgs } from "@pulumi/policy";
import { stackPolicy } from "../lib/policy";
import { datacenterModels, describeResource, TYPES } from "../lib/resources";

/** Hetzner Cloud locations by region (country), and their network zones. */
export const REGIONS: Readonly<Record<string, { readonly locations: readonly string[]; readonly networkZones: readonly string[] }>> = {
  de: { locations: ["fsn1", "nbg1"], networkZones: ["eu-central"] },
  fi: { locations: ["hel1"], networkZones: ["eu-central"] },
  eu: { locations: ["fsn1", "nbg1", "hel1"], networkZones: ["eu-central"] },
  us: { locations: ["ash", "hil"], networkZones: ["us-east", "us-west"] },
  sg: { locations: ["sin"], networkZones: ["ap-southeast"] },
};

/** Which inputs of each hcloud type name where it lives; `datacenter` ids look like fsn1-dc14. */
const PLACE_INPUTS: Readonly<Record<string, readonly string[]>> = {
  [TYPES.hcloudServer]: ["location", "datacenter"],
  [TYPES.hcloudVolume]: ["location"],
  [TYPES.hcloudPrimaryIp]: ["location", "datacenter"],
  [TYPES.hcloudFloatingIp]: ["homeLocation"],
  [TYPES.hcloudLoadBalancer]: ["location", "networkZone"],
  [TYPES.hcloudNetworkSubnet]: ["networkZone"],
};

interface Declared {
  readonly name: string;
  readonly locations: readonly string[];
  readonly networkZones: readonly string[];
}

function declaredRegion(args: StackValidationArgs): Declared | string {
  const pinned = args.getConfig<{ region?: string }>().region ?? args.stackTags.get("serverpark:region");
  if (pinned !== undefined) {
    const region = REGIONS[pinned];
    return region
      ? { name: `region ${pinned}`, ...region }
      : `the stack declares region "${pinned}", which this policy does not know (known: ${Object.keys(REGIONS).join(", ")})`;
  }
  const declared = datacenterModels(args.resources)
    .map((m) => (m.model.spec as { hetzner?: { allowedLocations?: string[] } }).hetzner?.allowedLocations)
    .find((l) => Array.isArray(l) && l.length > 0);
  if (declared) {
    const zones = Object.values(REGIONS)
      .filter((r) => r.locations.some((l) => declared.includes(l)))
      .flatMap((r) => r.networkZones);
    return { name: `the declared locations ${declared.join(", ")}`, locations: declared, networkZones: [...new Set(zones)] };
  }
  return { name: "region de", ...REGIONS.de! };
}

function judge(r: PolicyResource, region: Declared, inputs: readonly string[]): string[] {
  const who = describeResource(r.type, r.name, r.props);
  const present = inputs.filter((k) => typeof r.props[k] === "string" && r.props[k] !== "");
  if (present.length === 0)
    return [
      `${who} names no ${inputs.join(" or ")}, so Hetzner picks one (possibly outside ${region.name}). Fix: set ${inputs[0]} to one of ${region.locations.join(", ")}.`,
    ];
  return present.flatMap((key) => {
    const value = String(r.props[key]);
    const zone = key === "networkZone";
    const ok = zone ? region.networkZones.includes(value) : region.locations.includes(key === "datacenter" ? value.split("-")[0]! : value);
    return ok
      ? []
      : [
          `${who} is placed in ${key} ${value}, outside ${region.name} (${(zone ? region.networkZones : region.locations).join(", ")}). Fix: move it to ${region.locations.join(" or ")}.`,
        ];
  });
}

export const dataResidency = stackPolicy({
  name: "sp-501-data-residency",
  description: "Every Hetzner Cloud server, volume, IP, load balancer and subnet is placed in the stack's declared region (default Germany: fsn1, nbg1).",
  controls: ["A.5.23"],
  severity: "high",
  remediationSteps:
    "Set the resource's location to one of the region's locations (Germany: fsn1 or nbg1): serverpark:datacenter.hetzner.location / feedLocations.",
  configSchema: {
    properties: {
      region: { type: "string", enum: Object.keys(REGIONS), description: "the region the stack's data must stay in (overrides the stack's own declaration)" },
    },
  },
  validateStack: (args, report) => {
    const placed = args.resources.filter((r) => PLACE_INPUTS[r.type]);
    if (placed.length === 0) return args.notApplicable("no Hetzner Cloud resources in this stack");
    const region = declaredRegion(args);
    if (typeof region === "string") return report(`${region}. Fix: declare a known region.`);
    for (const r of placed) for (const message of judge(r, region, PLACE_INPUTS[r.type]!)) report(message, r.urn);
  },
});

export const RESIDENCY_POLICIES = [dataResidency];
