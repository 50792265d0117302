/**
 * Turns raw stack config into a `DatacenterSpec`, or into the complete list of problems.
 * Schema problems come from zod; the cross-reference rules below need the whole spec.
 * Cross-reference checks run only on parts that passed the schema, so one typo does not
 * produce a cascade of follow-on errors.
 */
import { Cron } from "croner";
import type { z } from "zod";
import { cidrsOverlap, formatCidr, parseCidr, type Cidr } from "../net/ipv4";
import { DEFAULT_BACKUP_QUOTA_BYTES } from "../../contracts/backups";
import { ROLE_INFO } from "../../contracts/roles";
import { checkCertificates } from "./certificates";
import { checkCustomers } from "./customers";
import { unreplicatedReplicas } from "./redundancy";
import { ROLE_SETTINGS, type AnyRoleSettings, type RoleSettings } from "./roleSettings";
import { DatacenterSpecSchema, type DatacenterSpec, type HostSpec, type PlanSpec } from "./schema";
import { type ConfigPath, type SpecIssue, SpecError, sortIssues } from "./issues";

export type ValidationResult = { ok: true; spec: DatacenterSpec } | { ok: false; issues: SpecIssue[] };

/** Address ranges these machines and Docker already use; the local datacenter must avoid them. */
const RESERVED_RANGES: readonly { cidr: string; why: string }[] = [
  { cidr: "172.17.0.0/16", why: "Docker's default bridge" },
  { cidr: "192.0.2.0/24", why: "the host machine's own network" },
  { cidr: "10.255.255.0/24", why: "the host machine's resolver" },
];

export interface ValidateOptions {
  /**
   * Check every service's `settings` with its role's schema (default). The diff tool turns it
   * off to show what a change does even while a setting is wrong (the preview workflow runs
   * `serverpark validate` for that), and the policy tests to feed the policies settings no
   * role accepts, since policies must hold on the resources whatever produced them.
   */
  readonly roleSettings?: boolean;
}

export function validateSpec(raw: unknown, options: ValidateOptions = {}): ValidationResult {
  if (raw === undefined || raw === null) {
    return { ok: false, issues: [{ path: [], message: "is missing: set it in the stack config (see stacks/Pulumi.local.yaml for a complete example)" }] };
  }
  const parsed = DatacenterSpecSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    return { ok: false, issues: sortIssues(zodIssues(parsed.error)) };
  }
  const roleSettings = new Map<number, AnyRoleSettings>();
  const issues = crossCheck(parsed.data, (options.roleSettings ?? true) ? roleSettings : undefined);
  if (issues.length > 0) return { ok: false, issues: sortIssues(issues) };
  // Each service carries its settings as its role's schema parsed them: the plan copies them
  // and the role hooks and views read them from there (settingsOf), never parsing again.
  const services = parsed.data.services.map((svc, s) => (roleSettings.has(s) ? { ...svc, roleSettings: roleSettings.get(s)! } : svc));
  return { ok: true, spec: { ...parsed.data, services } };
}

/** Like `validateSpec`, but throws a `SpecError` listing every problem. */
export function parseSpec(raw: unknown): DatacenterSpec {
  const result = validateSpec(raw);
  if (!result.ok) throw new SpecError(result.issues);
  return result.spec;
}

function zodIssues(error: z.ZodError, prefix: ConfigPath = []): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== "symbol")];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: [...path, key], message: "is not a known setting (check the spelling)" });
      continue;
    }
    out.push({ path, message: describeZodIssue(issue) });
  }
  return out;
}

function describeZodIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined ? `is required (expected ${issue.expected})` : `expected ${issue.expected}, got ${describeValue(issue.input)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${describeValue(issue.input)}`;
    default:
      return issue.message;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Collects duplicate ids of one kind of element. */
function checkUnique(items: readonly { id: string }[], listPath: ConfigPath, what: string, issues: SpecIssue[]): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const first = seen.get(item.id);
    if (first !== undefined) {
      issues.push({ path: [...listPath, i, "id"], message: `duplicate ${what} id "${item.id}" (first declared at ${listPath.join(".")}[${first}])` });
    } else seen.set(item.id, i);
  });
}

function oneOf(ids: Iterable<string>): string {
  const list = [...ids];
  return list.length === 0 ? "none declared" : `expected one of: ${list.join(", ")}`;
}

function fits(plan: PlanSpec, host: HostSpec): boolean {
  return plan.cpus <= host.capacity.cpus && plan.memoryGb <= host.capacity.memoryGb && plan.diskGb <= host.capacity.diskGb;
}

/** @param parsedSettings filled with each service's parsed role settings; undefined: role settings are not checked. */
function crossCheck(spec: DatacenterSpec, parsedSettings: Map<number, AnyRoleSettings> | undefined): SpecIssue[] {
  const issues: SpecIssue[] = [];
  checkUnique(spec.feeds, ["feeds"], "feed", issues);
  checkUnique(spec.racks, ["racks"], "rack", issues);
  checkUnique(spec.hosts, ["hosts"], "host", issues);
  checkUnique(spec.plans, ["plans"], "plan", issues);
  checkUnique(spec.networks, ["networks"], "network", issues);
  checkUnique(spec.services, ["services"], "service", issues);

  const feeds = new Set(spec.feeds.map((f) => f.id));
  const racks = new Map(spec.racks.map((r) => [r.id, r]));
  const plans = new Map(spec.plans.map((p) => [p.id, p]));
  const networks = new Map(spec.networks.map((n) => [n.id, n]));
  const pduRack = new Map<string, string>();

  // Hosts and services share the DNS namespace of the zone, so their ids must differ.
  const hostIds = new Set(spec.hosts.map((h) => h.id));
  spec.services.forEach((s, i) => {
    if (hostIds.has(s.id))
      issues.push({ path: ["services", i, "id"], message: `"${s.id}" is already a host id; hosts and services share DNS names, pick another id` });
  });

  spec.racks.forEach((rack, r) => {
    rack.pdus.forEach((pdu, p) => {
      const owner = pduRack.get(pdu.id);
      if (owner !== undefined) issues.push({ path: ["racks", r, "pdus", p, "id"], message: `duplicate PDU id "${pdu.id}" (already in rack ${owner})` });
      else pduRack.set(pdu.id, rack.id);
      if (!feeds.has(pdu.feed)) issues.push({ path: ["racks", r, "pdus", p, "feed"], message: `unknown feed "${pdu.feed}"; ${oneOf(feeds)}` });
    });
  });

  spec.hosts.forEach((host, h) => {
    const rack = racks.get(host.rack);
    if (!rack) issues.push({ path: ["hosts", h, "rack"], message: `unknown rack "${host.rack}"; ${oneOf(racks.keys())}` });
    host.psus.forEach((pdu, p) => {
      const inRack = pduRack.get(pdu);
      if (inRack === undefined)
        issues.push({ path: ["hosts", h, "psus", p], message: `unknown PDU "${pdu}"; ${oneOf(rack ? rack.pdus.map((x) => x.id) : pduRack.keys())}` });
      else if (rack && inRack !== rack.id)
        issues.push({
          path: ["hosts", h, "psus", p],
          message: `PDU "${pdu}" is in rack ${inRack}, but host ${host.id} is in rack ${rack.id}; a PSU can only use a PDU of its own rack`,
        });
    });
    if (host.psus.length === 2 && host.psus[0] === host.psus[1]) {
      issues.push({ path: ["hosts", h, "psus", 1], message: `both power supplies are on PDU "${host.psus[0]}"; use two different PDUs (or declare one PSU)` });
    }
  });

  // Networks: valid, non-overlapping CIDRs clear of ranges the machine already uses.
  const cidrs: { cidr: Cidr; index: number }[] = [];
  spec.networks.forEach((net, n) => {
    const parsed = parseCidr(net.cidr);
    if ("error" in parsed) {
      issues.push({ path: ["networks", n, "cidr"], message: parsed.error });
      return;
    }
    for (const other of cidrs) {
      if (cidrsOverlap(other.cidr, parsed)) {
        issues.push({
          path: ["networks", n, "cidr"],
          message: `${net.cidr} overlaps ${formatCidr(other.cidr)} of network "${spec.networks[other.index]!.id}"; networks must not overlap`,
        });
      }
    }
    for (const reserved of RESERVED_RANGES) {
      const r = parseCidr(reserved.cidr) as Cidr;
      if (cidrsOverlap(r, parsed))
        issues.push({
          path: ["networks", n, "cidr"],
          message: `${net.cidr} overlaps ${reserved.cidr} (${reserved.why}); pick a range inside 10.42.0.0/16 for example`,
        });
    }
    cidrs.push({ cidr: parsed, index: n });
  });
  const operator = parseCidr(spec.docker.operatorCidr);
  if ("error" in operator) issues.push({ path: ["docker", "operatorCidr"], message: operator.error });
  else {
    for (const other of cidrs) {
      if (cidrsOverlap(other.cidr, operator))
        issues.push({
          path: ["docker", "operatorCidr"],
          message: `${spec.docker.operatorCidr} overlaps network "${spec.networks[other.index]!.id}" (${formatCidr(other.cidr)})`,
        });
    }
  }
  if (!/^127\.\d+\.\d+\.\d+$/.test(spec.docker.publishAddress)) {
    issues.push({
      path: ["docker", "publishAddress"],
      message: `is ${spec.docker.publishAddress}; the local datacenter publishes only on loopback (127.x.x.x)`,
    });
  }
  if (!spec.networks.some((n) => n.exposure === "management")) {
    issues.push({ path: ["networks"], message: 'no network has exposure "management"; one is required for host agents, health checks and the NOC' });
  }

  // Plans must fit on at least one host of the matching kind.
  spec.plans.forEach((plan, p) => {
    const kind = plan.kind === "vps" ? "virtualization" : "dedicated";
    const candidates = spec.hosts.filter((h) => h.kind === kind);
    if (candidates.length === 0) issues.push({ path: ["plans", p, "kind"], message: `plan "${plan.id}" needs a ${kind} host, but none is declared` });
    else if (!candidates.some((h) => fits(plan, h))) {
      issues.push({
        path: ["plans", p],
        message: `plan "${plan.id}" (${plan.cpus} cpus, ${plan.memoryGb} GB, ${plan.diskGb} GB disk) is bigger than every ${kind} host`,
      });
    }
  });

  const eligibleCache = new Map<string, HostSpec[]>();
  const eligibleHosts = (plan: PlanSpec): HostSpec[] => {
    let list = eligibleCache.get(plan.id);
    if (!list) {
      const kind = plan.kind === "vps" ? "virtualization" : "dedicated";
      list = spec.hosts.filter((h) => h.kind === kind && fits(plan, h));
      eligibleCache.set(plan.id, list);
    }
    return list;
  };
  spec.services.forEach((svc, s) => {
    const plan = plans.get(svc.plan);
    if (!plan) issues.push({ path: ["services", s, "plan"], message: `unknown plan "${svc.plan}"; ${oneOf(plans.keys())}` });
    const seenNets = new Set<string>();
    svc.networks.forEach((netId, n) => {
      if (!networks.has(netId)) issues.push({ path: ["services", s, "networks", n], message: `unknown network "${netId}"; ${oneOf(networks.keys())}` });
      if (seenNets.has(netId)) issues.push({ path: ["services", s, "networks", n], message: `network "${netId}" is listed twice` });
      seenNets.add(netId);
    });
    if (svc.minReplicas !== undefined && svc.minReplicas > svc.replicas) {
      issues.push({ path: ["services", s, "minReplicas"], message: `is ${svc.minReplicas}, more than the ${svc.replicas} replicas declared` });
    }
    if (svc.redundant === true && svc.replicas < 2) {
      issues.push({ path: ["services", s, "replicas"], message: "a redundant service needs at least 2 replicas" });
    }
    const unreplicated = unreplicatedReplicas(svc);
    if (unreplicated !== undefined) {
      issues.push({ path: ["services", s, "replicas"], message: `is ${svc.replicas}, but ${unreplicated}; set replicas: 1` });
    }
    // The role's own settings schema, exactly as its server will parse them at start-up.
    if (parsedSettings) {
      const settings = ROLE_SETTINGS[svc.role].safeParse(svc.settings, { reportInput: true });
      if (!settings.success) issues.push(...zodIssues(settings.error, ["services", s, "settings"]));
      else {
        parsedSettings.set(s, settings.data);
        if (svc.role === "proxy") checkProxyRoutes(settings.data as RoleSettings["proxy"], spec, s, issues);
      }
    }
    if (svc.backup) {
      // The schema checked five fields; croner (what the servers schedule with) checks the values.
      try {
        new Cron(svc.backup.schedule, { paused: true, timezone: "Etc/UTC" }).stop();
      } catch (error) {
        issues.push({
          path: ["services", s, "backup", "schedule"],
          message: `"${svc.backup.schedule}" is not a valid cron expression: ${(error as Error).message}`,
        });
      }
    }
    if (svc.backup?.targetHost !== undefined && !hostIds.has(svc.backup.targetHost)) {
      issues.push({ path: ["services", s, "backup", "targetHost"], message: `unknown host "${svc.backup.targetHost}"; ${oneOf(hostIds)}` });
    }
    if (svc.backup?.targetHost !== undefined) checkStoreRoom(spec, s, issues);
    if (plan) {
      const kind = plan.kind === "vps" ? "virtualization" : "dedicated";
      const eligible = eligibleHosts(plan);
      if (svc.replicas > eligible.length) {
        issues.push({
          path: ["services", s, "replicas"],
          message: `${svc.replicas} replicas need ${svc.replicas} different hosts, but only ${eligible.length} ${kind} host${eligible.length === 1 ? "" : "s"} can hold plan "${plan.id}"${
            eligible.length
              ? ` (${eligible
                  .slice(0, 12)
                  .map((h) => h.id)
                  .join(", ")}${eligible.length > 12 ? ", …" : ""})`
              : ""
          }`,
        });
      }
    }
  });
  if (parsedSettings) checkNocDbLogin(spec, parsedSettings, issues);
  const fileUsers = parsedSettings
    ? new Map(
        spec.services.flatMap((svc, s) =>
          svc.role === "file" && parsedSettings.has(s) ? [[s, (parsedSettings.get(s) as RoleSettings["file"]).users] as const] : [],
        ),
      )
    : undefined;
  issues.push(...checkCustomers(spec, fileUsers), ...checkCertificates(spec));
  return issues;
}

/**
 * A proxy route's `service` must be a service of this datacenter, and its port (named, or
 * "http" by default) one of that service's ports, else the first TCP port is used (the
 * views resolve routes the same way: components/model/proxyRoutes.ts). Only a port named
 * in the stack is an error here.
 */
function checkProxyRoutes(settings: RoleSettings["proxy"], spec: DatacenterSpec, s: number, issues: SpecIssue[]): void {
  const written = (spec.services[s]!.settings.routes ?? []) as readonly { port?: unknown }[];
  settings.routes.forEach((route, r) => {
    if (route.service === undefined) return;
    const target = spec.services.find((t) => t.id === route.service);
    const path: ConfigPath = ["services", s, "settings", "routes", r];
    if (!target) {
      issues.push({ path: [...path, "service"], message: `unknown service "${route.service}"; ${oneOf(spec.services.map((t) => t.id))}` });
      return;
    }
    const attached = (svc: DatacenterSpec["services"][number]) => [
      ...svc.networks,
      ...(svc.management ? spec.networks.filter((n) => n.exposure === "management").map((n) => n.id) : []),
    ];
    const proxyNets = new Set(attached(spec.services[s]!));
    if (!attached(target).some((n) => proxyNets.has(n))) {
      issues.push({
        path: [...path, "service"],
        message: `service "${target.id}" shares no network with this proxy; attach one of them to a network of the other`,
      });
    }
    const ports = ROLE_INFO[target.role].ports.map((p) => p.name);
    if (written[r]?.port !== undefined && !ports.includes(route.port)) {
      issues.push({ path: [...path, "port"], message: `service "${target.id}" (${target.role}) has no port "${route.port}"; ${oneOf(ports)}` });
    }
  });
}

/**
 * The NOC's monitoring login is created on every db service: it must not be the db's own
 * application user, and its database must exist there (postgres always does).
 */
function checkNocDbLogin(spec: DatacenterSpec, parsed: ReadonlyMap<number, AnyRoleSettings>, issues: SpecIssue[]): void {
  spec.services.forEach((noc, n) => {
    const probe = noc.role === "noc" ? (parsed.get(n) as RoleSettings["noc"] | undefined) : undefined;
    if (!probe) return;
    spec.services.forEach((db, d) => {
      const own = db.role === "db" ? (parsed.get(d) as RoleSettings["db"] | undefined) : undefined;
      if (!own) return;
      if (probe.dbUser === own.user) {
        issues.push({
          path: ["services", n, "settings", "dbUser"],
          message: `is "${probe.dbUser}", the application user of db service "${db.id}"; the monitoring login needs its own name`,
        });
      }
      if (probe.dbName !== "postgres" && !own.databases.includes(probe.dbName)) {
        issues.push({
          path: ["services", n, "settings", "dbName"],
          message: `database "${probe.dbName}" is not one of db service "${db.id}"'s databases (${["postgres", ...own.databases].join(", ")})`,
        });
      }
    });
  });
}

/**
 * The target host's disk holds the backup quotas of every service that ships to it (the store
 * refuses copies past a quota, so the quotas are what it may come to hold).
 */
function checkStoreRoom(spec: DatacenterSpec, s: number, issues: SpecIssue[]): void {
  const target = spec.services[s]!.backup!.targetHost!;
  const host = spec.hosts.find((h) => h.id === target);
  const sharing = spec.services.filter((x) => x.backup?.targetHost === target);
  // Reported once, at the last service that ships there.
  if (!host || sharing.at(-1) !== spec.services[s]) return;
  const gb = (x: (typeof sharing)[number]) => x.backup!.quotaGb ?? DEFAULT_BACKUP_QUOTA_BYTES / 1024 ** 3;
  const total = sharing.reduce((sum, x) => sum + gb(x), 0);
  if (total > host.capacity.diskGb)
    issues.push({
      path: ["services", s, "backup", "quotaGb"],
      message: `host ${target} keeps the backups of ${sharing.map((x) => `${x.id} (${gb(x)} GB)`).join(", ")}: ${total} GB of quotas on a ${host.capacity.diskGb} GB disk. Fix: lower backup.quotaGb, or ship some of them to another host`,
    });
}
