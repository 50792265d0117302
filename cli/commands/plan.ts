import { relative } from "node:path";
import { EXIT, type CliCommand } from "../command";
import { loadPlan, table } from "../stack";
import { renderLock, writeLock } from "../../components/plan/lock";
import { formatPath } from "../../components/spec/issues";
import type { DatacenterPlan } from "../../components/plan";
import { containerPort, type HostPorts } from "../../components/targets/docker/hostPorts";
import { checkHetzner } from "../../components/targets/hetzner/settings";
import { monthlyCost } from "../../components/targets/hetzner/cost";
import type { DatacenterSpec } from "../../components/spec/schema";

const fmt = (n: number) => String(Math.round(n * 100) / 100);

/** For a Hetzner stack: what it costs a month (components/targets/hetzner/cost.ts). */
function renderCost(spec: DatacenterSpec, plan: DatacenterPlan): string[] {
  const check = checkHetzner(spec, plan);
  if (!check.ok) return ["", `Hetzner cost: not computed, the stack has ${check.issues.length} Hetzner problem(s) (serverpark validate lists them)`];
  const cost = monthlyCost(plan, check.resolution);
  const eur = (n: number) => n.toFixed(2);
  return [
    "",
    table(
      ["HETZNER COST", "COUNT", "EUR EACH", "EUR A MONTH"],
      [
        ...cost.lines.map((l) => [l.item, String(l.count), l.unitEur < 0.1 ? l.unitEur.toFixed(3) : eur(l.unitEur), eur(l.eurMonth)]),
        ["total (before VAT)", "", "", eur(cost.totalEur)],
      ],
    ),
  ];
}

function render(plan: DatacenterPlan, hostPorts: HostPorts): string {
  const hosts = table(
    ["HOST", "RACK", "KIND", "FEEDS", "CPUS", "MEMORY GB", "DISK GB", "REPLICAS"],
    plan.hosts.map((h) => [
      h.id,
      h.rack,
      h.kind,
      h.feeds.join("+"),
      `${fmt(h.allocated.cpus)}/${fmt(h.cpuLimit)}`,
      `${fmt(h.allocated.memoryGb)}/${fmt(h.capacity.memoryGb)}`,
      `${fmt(h.allocated.diskGb)}/${fmt(h.capacity.diskGb)}`,
      h.replicas.join(" ") || "-",
    ]),
  );
  const replicas = table(
    ["REPLICA", "ROLE", "HOST", "RACK", "FEEDS", "ADDRESSES", "PUBLISHED"],
    plan.replicas.map((r) => [
      r.id,
      r.role,
      r.host,
      r.rack,
      r.feeds.join("+"),
      Object.entries(r.addresses)
        .map(([n, a]) => `${n}=${a}`)
        .join(" "),
      [...new Map((hostPorts.byReplica.get(r.id) ?? []).map((p) => [p.hostPort, `${p.hostAddress}:${p.hostPort}→${containerPort(p)}`])).values()].join(" ") ||
        "-",
    ]),
  );
  const networks = table(
    ["NETWORK", "CIDR", "EXPOSURE", "GATEWAY", "MEMBERS"],
    plan.networks.map((n) => [n.id, n.cidr, n.exposure, n.gateway, String(n.members.length)]),
  );
  const exposure = table(
    ["SERVICE", "PORT", "REACHABLE FROM", "PUBLISHED TO"],
    plan.exposure.map((e) => [e.service, `${e.port} ${e.number}/${e.protocol}`, e.reachableFrom.join(",") || "-", e.publishedTo]),
  );
  const records = plan.zones.reduce((n, z) => n + z.records.length, 0);
  const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
  const customers = plan.customers
    ? table(
        ["CUSTOMER", "PLAN", "QUOTA", "DOMAINS", "FILE ACCOUNTS", "MAILBOXES", "SITE"],
        plan.customers.map((c) => [
          c.id,
          c.plan,
          mib(c.quotaBytes),
          c.domains.join(" "),
          c.fileAccounts
            .map(
              (a) =>
                `${a.name}(${[a.password ? "password" : "", a.sshKeys.length ? `${a.sshKeys.length} key${a.sshKeys.length === 1 ? "" : "s"}` : ""].filter(Boolean).join("+")})`,
            )
            .join(" "),
          c.mailboxes.map((m) => `${m.address}(${mib(m.quotaBytes)})`).join(" ") || "-",
          `${c.site.fileService}:${c.site.account}/${c.site.folder} → ${c.site.webService} via ${c.site.proxyService}: ${c.site.names.map((n) => `https://${n}/`).join(" ")}${c.site.acme ? " (ACME certificate)" : ""}`,
        ]),
      )
    : undefined;
  return [
    `Datacenter ${plan.datacenter} (${plan.domain})`,
    "",
    hosts,
    "",
    replicas,
    "",
    networks,
    "",
    exposure,
    "",
    ...(customers ? [customers, ""] : []),
    `DNS: ${plan.zones.length} zones, ${records} records (${plan.zones.map((z) => z.origin).join(", ")})`,
    ...plan.notes.map((n) => `note: ${formatPath(n.path)}: ${n.message}`),
  ].join("\n");
}

export const command: CliCommand = {
  name: "plan",
  summary: "show where every replica goes, its addresses and published ports",
  usage: `Usage: serverpark plan <stack> [--json] [--write-lock] [--ignore-lock]

Computes the datacenter plan: replica placement, addresses on every network, published
ports, the exposure matrix, the hosting customers (plan, quota, domains, accounts, where
their site is served) and the DNS zones; for a Hetzner stack, what it costs a month
(servers, backups, IPv4 addresses, volumes, load balancer; EUR before VAT). The plan keeps what the stack's lock file
(stacks/Pulumi.<stack>.lock.json) recorded, so existing replicas never move.

Options:
  --json         print the whole plan as JSON
  --write-lock   record this plan in the lock file (pulumi up does this too)
  --ignore-lock  plan from scratch, as if no lock existed (shows what would move)`,
  options: { json: { type: "boolean" }, "write-lock": { type: "boolean" }, "ignore-lock": { type: "boolean" } },
  positionals: { min: 1, max: 1 },
  run({ values, positionals }, io) {
    const { file, spec, plan, hostPorts, lock, lockPath } = loadPlan(positionals[0]!, io.cwd, { ignoreLock: values["ignore-lock"] === true });
    const hetzner = file.config["serverpark:target"] === "hetzner";
    io.out(values.json === true ? JSON.stringify(plan, null, 2) : [render(plan, hostPorts), ...(hetzner ? renderCost(spec, plan) : [])].join("\n"));
    if (values["write-lock"] === true) {
      const wrote = writeLock(lockPath, lock);
      io.err(`${relative(io.cwd, lockPath)}: ${wrote ? "written" : "unchanged"} (${renderLock(lock).length} bytes)`);
    }
    return EXIT.ok;
  },
};
