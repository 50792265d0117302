/**
 * Hosting customers' sites on Hetzner (contracts/sites.ts). The launch gives the file service
 * and its web services one shared `sites` volume (components/model/launch.ts); on Hetzner the
 * replicas are separate servers and no volume can be shared, so this target turns it into a
 * pull: the file replica keeps its published sites in a directory on its server's disk and
 * serves them, as archives, on its management port; each web replica keeps its own copies in
 * a directory on its server's disk and polls the file replicas' management addresses
 * (mutual TLS, its sites client certificate: components/DatacenterService.ts).
 *
 * Why pull: a push would make the file replica a client of every web replica (a credential on
 * the server customers log in to that opens every web server), and a network file system
 * would tie every web server to the file server's uptime; with a pull a web server keeps
 * serving its last good copies when the file server is down, and needs nothing but read
 * access to published, public content.
 */
import { MANAGEMENT_PORT } from "../../../contracts/roles";
import { SITES_ENV } from "../../../contracts/sites";
import type { ReplicaLaunch } from "../../model/launch";
import type { DatacenterPlan, PlannedReplica } from "../../plan";
import type { SpecIssue } from "../../spec/issues";

/** What a replica's container gets for customers' sites: a directory of its own and the pull settings. */
export interface SitesPull {
  readonly sites: { readonly containerPath: string };
  readonly env: Readonly<Record<string, string>>;
}

/** The management URL of a replica (its address on the first management network), if it has one. */
function managementUrl(plan: DatacenterPlan, replica: PlannedReplica): string | undefined {
  const net = plan.networks.find((n) => n.exposure === "management" && replica.addresses[n.id]);
  return net ? `https://${replica.addresses[net.id]}:${MANAGEMENT_PORT}` : undefined;
}

/** The Hetzner form of a launch's `sites` volumes, or undefined when it has none. */
export function sitesPull(plan: DatacenterPlan, launch: ReplicaLaunch): SitesPull | undefined {
  const volumes = launch.volumes.filter((v) => v.kind === "sites");
  if (volumes.length === 0) return undefined;
  const sites = { containerPath: volumes[0]!.containerPath };
  if (launch.service.role === "file") return { sites, env: { [SITES_ENV.serve]: "1" } };
  const owners = new Set(volumes.map((v) => v.owner?.service));
  const sources = plan.replicas
    .filter((r) => owners.has(r.service))
    .map((r) => managementUrl(plan, r))
    .filter((u): u is string => u !== undefined);
  // A site is bounded by its customer's plan quota: the largest quota among the customers served here.
  const quotas = (plan.customers ?? []).filter((c) => c.site.webService === launch.service.id).map((c) => c.quotaBytes);
  return { sites, env: { [SITES_ENV.pullFrom]: JSON.stringify(sources), [SITES_ENV.maxBytes]: String(Math.max(1, ...quotas)) } };
}

/**
 * What the pull needs from the plan: every file replica holding a customer's site has an address
 * on a management network, and every server of the site's web replicas is on that network too.
 * Otherwise the site would answer 404 on this target, so validation refuses it.
 */
export function checkSitesPull(plan: DatacenterPlan): SpecIssue[] {
  const issues: SpecIssue[] = [];
  (plan.customers ?? []).forEach((c, i) => {
    const files = plan.replicas.filter((r) => r.service === c.site.fileService);
    const webs = plan.replicas.filter((r) => r.service === c.site.webService);
    const nets = plan.networks.filter((n) => n.exposure === "management").map((n) => n.id);
    for (const f of files) {
      const net = nets.find((n) => f.addresses[n] !== undefined);
      const cut = webs.filter((w) => net === undefined || plan.hosts.find((h) => h.id === w.host)?.addresses[net] === undefined);
      if (net === undefined || cut.length > 0)
        issues.push({
          path: ["customers", i],
          message:
            `customer ${c.id}'s site cannot reach web service ${c.site.webService} on the hetzner target: its web replicas pull the site from ` +
            `file replica ${f.id}'s management port, so ${net === undefined ? `${f.id} needs an address on a management network` : `the servers of ${cut.map((w) => w.id).join(", ")} need an address on network ${net}`}`,
        });
    }
  });
  return issues;
}
