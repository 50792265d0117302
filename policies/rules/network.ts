/**
 * A.8.20 Networks security and A.8.22 Segregation of networks: back-ends and management stay
 * off the internet network, internal and management networks have no route out, only the
 * roles meant for the internet publish ports, and the local datacenter publishes nothing
 * beyond loopback.
 */
import { MANAGEMENT_PORT, ROLE_INFO, type Role } from "../../contracts/roles";
import { containerPolicy, resourcePolicy, stackPolicy } from "../lib/policy";
import { datacenterModels, describeResource, serverparkLabels, servicePath, TYPES } from "../lib/resources";

/**
 * Roles whose servers must never sit on an internet network (plus every host agent). One
 * exception: a file service that holds hosting customers' accounts (the plan's `customers`)
 * faces the internet by design — customers upload their sites over SFTP/FTPS from outside —
 * and its server is hardened for it (images/file/README.md, "Limits under attack").
 */
export const BACKEND_ROLES: readonly string[] = ["db", "file", "noc", "host-agent"];

export const internalNetworksIsolated = resourcePolicy({
  name: "sp-301-internal-networks-isolated",
  description: "Internal and management networks are internal (no route to the outside).",
  controls: ["A.8.20", "A.8.22"],
  severity: "high",
  remediationSteps:
    "Create internal and management networks with `internal: true`; only networks whose exposure is internet (or the operator bridge) get a route out.",
  validateResource: (args, report) => {
    if (args.type !== TYPES.network) return args.notApplicable(`applies to ${TYPES.network} only`);
    const exposure = serverparkLabels(args.props).exposure;
    if (exposure === undefined)
      report(
        `${describeResource(args.type, args.name, args.props)} has no serverpark.exposure label, so its segregation cannot be judged. Fix: create it through the Docker target.`,
      );
    else if ((exposure === "internal" || exposure === "management") && args.props.internal !== true) {
      report(
        `${describeResource(args.type, args.name, args.props)} is a ${exposure} network but not internal: its members can reach the outside. Fix: set internal: true.`,
      );
    }
  },
});

export const backendsOffInternet = stackPolicy({
  name: "sp-302-backends-off-internet",
  description:
    "Databases, file service back-ends (except a file service holding hosting customers' accounts, which customers reach over SFTP/FTPS), the NOC, host agents and the management network are not attached to an internet network.",
  controls: ["A.8.20", "A.8.22"],
  severity: "critical",
  remediationSteps:
    "Remove the internet network from the service's `networks` (db and file sit on internal networks behind the proxy); never give a network used for management the exposure internet.",
  validateStack: (args, report) => {
    const models = datacenterModels(args.resources);
    const containers = args.resources.filter((r) => r.type === TYPES.container);
    if (models.length === 0 && containers.length === 0) return args.notApplicable("no serverpark Datacenter or Docker containers in this stack");
    // File services that hold customers' accounts, by datacenter and service id.
    const customerFiles = new Set(models.flatMap(({ model }) => (model.plan.customers ?? []).map((c) => `${model.plan.datacenter}/${c.site.fileService}`)));
    // The model: declared services on internet networks.
    for (const { urn, model } of models) {
      const internet = new Set(model.plan.networks.filter((n) => n.exposure === "internet").map((n) => n.id));
      for (const svc of model.plan.services) {
        const on = svc.networks.filter((n) => internet.has(n));
        if (svc.role === "file" && customerFiles.has(`${model.plan.datacenter}/${svc.id}`)) continue;
        if (BACKEND_ROLES.includes(svc.role) && on.length > 0) {
          report(
            `${servicePath(model.spec, svc.id)} is a ${svc.role} service attached to the internet network ${on.join(", ")}. Fix: remove ${on.join(", ")} from its networks; reach it through an internal network.`,
            urn,
          );
        }
      }
    }
    // The resources: whatever the target built, judged by the networks' own exposure labels.
    const exposureByName = new Map<string, string>();
    for (const n of args.resources.filter((r) => r.type === TYPES.network)) {
      const exposure = serverparkLabels(n.props).exposure;
      if (typeof n.props.name === "string" && exposure) exposureByName.set(n.props.name, exposure);
    }
    for (const c of containers) {
      const labels = serverparkLabels(c.props);
      const role = labels.role ?? "";
      if (!BACKEND_ROLES.includes(role)) continue;
      if (role === "file" && customerFiles.has(`${labels.datacenter ?? ""}/${labels.service ?? ""}`)) continue;
      const nets = ((c.props.networksAdvanced ?? []) as { name?: string }[]).map((n) => n.name ?? "");
      const bad = nets.filter((n) => exposureByName.get(n) === "internet");
      if (bad.length > 0)
        report(
          `${describeResource(c.type, c.name, c.props)} (role ${role}) is attached to the internet network ${bad.join(", ")}. Fix: detach it; back-ends sit on internal networks only.`,
          c.urn,
        );
    }
  },
});

/** Ports a role may publish outside the datacenter (its `internet` and `operator` ports). */
export function publishablePorts(role: string): Set<string> {
  const info = ROLE_INFO[role as Role];
  if (!info) return new Set();
  return new Set(info.ports.filter((p) => p.publish !== "none").map((p) => `${p.port}/${p.protocol}`));
}

const PRIVATE = /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/;

/**
 * The range the container's `portRangeEnv` moved the role's `sameNumberOutside` ports onto
 * (the Docker target's FTP passive ports: components/targets/docker/hostPorts.ts), as
 * `n/protocol` keys: only a range exactly as long as the catalogue's.
 */
function movedPorts(role: string, env: Readonly<Record<string, string>>): Set<string> {
  const info = ROLE_INFO[role as Role];
  const range = info?.portRangeEnv ? /^(\d+)-(\d+)$/.exec(env[info.portRangeEnv] ?? "") : null;
  const moving = info?.ports.filter((p) => p.sameNumberOutside) ?? [];
  if (!range || Number(range[2]) - Number(range[1]) + 1 !== moving.length) return new Set();
  return new Set(moving.map((p, i) => `${Number(range[1]) + i}/${p.protocol}`));
}

export const publishedPortsAllowed = containerPolicy({
  name: "sp-303-published-ports-allowed",
  description:
    "Only the proxy, DNS, mail and game ports, the file service's SFTP/FTPS for hosting customers (and the NOC page for operators) are published; never a management or database port.",
  controls: ["A.8.20"],
  severity: "high",
  remediationSteps: "Remove the port from the container's `ports`; other services are reached through the proxy or from inside the datacenter.",
  validateContainer: ({ ports, role, who, env }, report) => {
    const allowed = new Set([...publishablePorts(role), ...movedPorts(role, env)]);
    for (const p of ports) {
      // A cloud server publishes management ports on its private (datacenter network) address
      // for the NOC: that stays inside the datacenter.
      if (p.ip && PRIVATE.test(p.ip)) continue;
      const key = `${p.internal}/${p.protocol}`;
      if (!allowed.has(key)) {
        const why = p.internal === MANAGEMENT_PORT ? "the management port (/metrics, /healthz)" : `not a public port of role ${role}`;
        report(`${who} publishes ${key} (${why}). Fix: remove it from ports.`);
      }
    }
  },
});

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export const localLoopbackOnly = containerPolicy({
  name: "sp-304-local-loopback-only",
  description: "The local (Docker) datacenter publishes ports on 127.0.0.1 only.",
  controls: ["A.8.20"],
  severity: "high",
  remediationSteps: "Publish on 127.0.0.1 (serverpark:datacenter.docker.publishAddress); an empty ip means every interface of the machine.",
  validateContainer: ({ ports, who }, report, args) => {
    // Loopback is the rule of the local datacenter; a cloud server publishes on its public address.
    if (args.type !== TYPES.container) return args.notApplicable("applies to the Docker target's containers only");
    for (const p of ports) {
      if (!p.ip || !LOOPBACK.test(p.ip)) {
        report(`${who} publishes port ${p.internal} on ${p.ip || "every interface (0.0.0.0)"}. Fix: publish on 127.0.0.1.`);
      }
    }
  },
});

export const NETWORK_POLICIES = [internalNetworksIsolated, backendsOffInternet, publishedPortsAllowed, localLoopbackOnly];
