/**
 * A.5.23 Information security for use of cloud services — data residency: on Hetzner Cloud,
 * every server, volume, IP and load balancer sits in a location of the region the stack
 * declares (Germany: fsn1, nbg1). The region comes from the policy config (`region`), else
 * from the stack tag `serverpark:region`, else Germany.
 */
import { resourcePolicy } from "../lib/policy";
import { describeResource, TYPES } from "../lib/resources";

/** Hetzner Cloud locations by region (country), and their network zones. */
export const REGIONS: Readonly<Record<string, { readonly locations: readonly string[]; readonly networkZones: readonly string[] }>> = {
  de: { locations: ["fsn1", "nbg1"], networkZones: ["eu-central"] },
  fi: { locations: ["hel1"], networkZones: ["eu-central"] },
  eu: { locations: ["fsn1", "nbg1", "hel1"], networkZones: ["eu-central"] },
  us: { locations: ["ash", "hil"], networkZones: ["us-east", "us-west"] },
  sg: { locations: ["sin"], networkZones: ["ap-southeast"] },
};

/** Which input of each hcloud type names where it lives; `datacenter` ids look like fsn1-dc14. */
const PLACE_INPUTS: Readonly<Record<string, readonly string[]>> = {
  [TYPES.hcloudServer]: ["location", "datacenter"],
  [TYPES.hcloudVolume]: ["location"],
  [TYPES.hcloudPrimaryIp]: ["datacenter"],
  [TYPES.hcloudFloatingIp]: ["homeLocation"],
  [TYPES.hcloudLoadBalancer]: ["location", "networkZone"],
  [TYPES.hcloudNetworkSubnet]: ["networkZone"],
};

export const dataResidency = resourcePolicy({
  name: "sp-501-data-residency",
  description: "Every Hetzner Cloud server, volume, IP, load balancer and subnet is placed in the stack's declared region (default Germany: fsn1, nbg1).",
  controls: ["A.5.23"],
  severity: "high",
  remediationSteps: "Set the resource's location to one of the region's locations (Germany: fsn1 or nbg1), or declare the intended region in the policy config.",
  configSchema: { properties: { region: { type: "string", enum: Object.keys(REGIONS), description: "the region the stack's data must stay in" } } },
  validateResource: (args, report) => {
    const inputs = PLACE_INPUTS[args.type];
    if (!inputs) return args.notApplicable("not a placed Hetzner Cloud resource");
    const region = args.getConfig<{ region?: string }>().region ?? args.stackTags.get("serverpark:region") ?? "de";
    const allowed = REGIONS[region];
    const who = describeResource(args.type, args.name, args.props);
    if (!allowed) return report(`${who}: the stack declares region "${region}", which this policy does not know (known: ${Object.keys(REGIONS).join(", ")}). Fix: declare a known region.`);
    const present = inputs.filter((k) => typeof args.props[k] === "string" && args.props[k] !== "");
    if (present.length === 0) {
      return report(`${who} names no ${inputs.join(" or ")}, so Hetzner picks one (possibly outside region ${region}). Fix: set ${inputs[0]} to one of ${allowed.locations.join(", ")}.`);
    }
    for (const key of present) {
      const value = String(args.props[key]);
      const ok = key === "networkZone" ? allowed.networkZones.includes(value) : allowed.locations.includes(key === "datacenter" ? value.split("-")[0]! : value);
      if (!ok) report(`${who} is placed in ${key} ${value}, outside region ${region} (${key === "networkZone" ? allowed.networkZones.join(", ") : allowed.locations.join(", ")}). Fix: move it to ${allowed.locations.join(" or ")}.`);
    }
  },
});

export const RESIDENCY_POLICIES = [dataResidency];
