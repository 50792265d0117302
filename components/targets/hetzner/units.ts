/**
 * What a Hetzner server runs, as files: one systemd unit per container (the host agent and each
 * replica), the network script that puts the planned alias addresses on the private
 * interfaces, and the fstab line of a replica's volume. Pure functions of plain values: the
 * same input always gives the same bytes, so a change shows up in `pulumi preview` exactly
 * when a container's deployment changed. The deployment copies these over SSH after boot
 * (deploy.ts); none of them is in the server's user data (cloudInit.ts).
 *
 * A unit runs `docker run` with the same hardening as the Docker target and publishes every
 * port on exactly the planned address: role ports on the replica's addresses of the networks
 * that may reach them, /healthz+/metrics on its management address, published ports on the
 * public IPv4. The environment is in the unit (`--env`, never a credential: sp-212); files
 * (runtime config, TLS material, role files) are bind-mounted read-only from the container's
 * directory, where the deployment copies them.
 */
import type { ContainerLaunch, HealthCheck } from "../../model/launch";
import { EGRESS, EGRESS_UNIT } from "./egress";

export interface ServerFile {
  /** Absolute path inside the container. */
  readonly path: string;
  readonly content: string;
  /** Permissions for the container user (uid 1000 owns the file), e.g. 0o400 for a secret. */
  readonly mode: number;
}

export interface ServerPort {
  /** A planned address, or `public` for the server's public IPv4. */
  readonly address: string | "public";
  readonly port: number;
  readonly protocol: "tcp" | "udp";
}

/** A container as its launch describes it (hostname, domain, env, health check, resolvers), resolved to plain values. */
export interface ServerContainer extends Pick<ContainerLaunch, "hostname" | "domain" | "env" | "health" | "resolvers"> {
  /** Container and unit name suffix: the replica id, or `host-agent`. */
  readonly id: string;
  /** The image reference to pull and run. */
  readonly image: string;
  readonly ports: readonly ServerPort[];
  /** Where each file is mounted and with which mode (contents travel separately: deploy.ts). */
  readonly files: readonly Omit<ServerFile, "content">[];
  readonly cpus: number;
  readonly memoryGb: number;
  /** Mount the replica's volume (VOLUMES/<id>) at `containerPath`. */
  readonly volume?: { readonly containerPath: string };
  /** Mount the replica's backup directory on the server's disk (BACKUPS/<id>) at `containerPath`. */
  readonly backup?: { readonly containerPath: string };
  /** Mount the replica's small state directory on the server's disk (STATE/<id>) at `containerPath`: the proxy's ACME keys and certificates. */
  readonly state?: { readonly containerPath: string };
  /** Mount the replica's customers' sites directory on the server's disk (SITES/<id>) at `containerPath` (sites.ts). */
  readonly sites?: { readonly containerPath: string };
  /** May open connections to the internet (one of its networks faces it); otherwise only to private addresses (egress.ts). */
  readonly internet: boolean;
}

export interface ServerNetwork {
  readonly id: string;
  /** The server's address on the network (given by Hetzner's DHCP). */
  readonly primary: string;
  /** Further planned addresses routed to this server (replicas' addresses). */
  readonly aliases: readonly string[];
}

/** Where the deployment keeps everything on a server (0700, root's). */
export const ETC = "/etc/serverpark";
export const VOLUMES = "/srv/serverpark/volumes";
/** Backups of a replica: on the server's own disk, apart from its data volume (off the host: issue #17). */
export const BACKUPS = "/srv/serverpark/backups";
/** Customers' sites: the file replica's published copies, a web replica's pulled ones (sites.ts). */
export const SITES = "/srv/serverpark/sites";
/** A replica's small state that is no role's data (the proxy's ACME account and certificates): on the server's disk. */
export const STATE = "/srv/serverpark/state";
export const NETWORK_SCRIPT = "/usr/local/sbin/serverpark-network";
export const NETWORK_UNIT_PATH = "/etc/systemd/system/serverpark-network.service";
const PUBLIC_ENV = "/run/serverpark/public.env";
const PUBLIC_VAR = "${SP_PUBLIC_IPV4}";

/** The directory of a container's files on the server. */
export const containerDir = (id: string) => `${ETC}/containers/${id}`;
export const unitName = (id: string) => `serverpark-${id}.service`;
/** The Docker container a unit runs. */
export const containerName = (datacenter: string, id: string) => `${datacenter}-${id}`;
export const unitPath = (id: string) => `/etc/systemd/system/${unitName(id)}`;

/** Stable, readable file name for a container path: /etc/serverpark/tls/tls.key → etc_serverpark_tls_tls.key */
export function fileSlug(path: string): string {
  return path.replace(/^\/+/, "").replace(/[^A-Za-z0-9._-]/g, "_");
}

/** Where a container's file lives on the server. */
export const serverFilePath = (id: string, path: string) => `${containerDir(id)}/files/${fileSlug(path)}`;

/** The launch's health check as `docker run` flags (a shell command line: the probe's argv joined). */
function healthFlags(h: HealthCheck): string[] {
  return [
    "--health-cmd",
    h.command.join(" "),
    "--health-interval",
    `${h.intervalSeconds}s`,
    "--health-timeout",
    `${h.timeoutSeconds}s`,
    "--health-retries",
    String(h.retries),
    "--health-start-period",
    `${h.startPeriodSeconds}s`,
  ];
}

/**
 * One argument of a systemd command line: `%` (specifiers) and `$` (variables) escaped, except
 * the public-address variable systemd is meant to expand; quoted when it holds spaces or quotes.
 */
export function systemdArg(arg: string): string {
  const escaped = arg
    .split(PUBLIC_VAR)
    .map((part) => part.replace(/%/g, "%%").replace(/\$/g, "$$$$"))
    .join(PUBLIC_VAR);
  if (/^[A-Za-z0-9_@%+=:,./{}$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** `docker run` as lines of one flag and its value each, so the unit reads like a compose file. */
function dockerRunLines(name: string, domain: string, c: ServerContainer): string[][] {
  const memory = `${Math.max(16, Math.round(c.memoryGb * 1024))}m`;
  const lines: string[][] = [
    ["/usr/bin/docker", "run", "--rm", "--name", name],
    ["--network", c.internet ? EGRESS.open.name : EGRESS.closed.name],
    ["--hostname", c.hostname],
    ...(c.domain ? [["--domainname", c.domain]] : []),
    ["--user", "1000:1000"],
    ["--cap-drop", "ALL"],
    ["--security-opt", "no-new-privileges:true"],
    ["--sysctl", "net.ipv4.ip_unprivileged_port_start=0"],
    ["--cpu-period", "100000", "--cpu-quota", String(Math.round(c.cpus * 100000))],
    ["--memory", memory, "--memory-swap", memory],
    ["--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3"],
    ["--stop-timeout", "20"],
    healthFlags(c.health),
  ];
  for (const k of Object.keys(c.env).sort()) lines.push(["--env", `${k}=${c.env[k]}`]);
  for (const r of c.resolvers) lines.push(["--dns", r]);
  if (c.resolvers.length > 0) lines.push(["--dns-search", c.domain ?? domain]);
  for (const f of [...c.files].sort((a, b) => a.path.localeCompare(b.path))) lines.push(["--volume", `${serverFilePath(c.id, f.path)}:${f.path}:ro`]);
  if (c.volume) lines.push(["--volume", `${VOLUMES}/${c.id}:${c.volume.containerPath}`]);
  if (c.backup) lines.push(["--volume", `${BACKUPS}/${c.id}:${c.backup.containerPath}`]);
  if (c.sites) lines.push(["--volume", `${SITES}/${c.id}:${c.sites.containerPath}`]);
  if (c.state) lines.push(["--volume", `${STATE}/${c.id}:${c.state.containerPath}`]);
  const ports = [...c.ports].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || a.address.localeCompare(b.address));
  for (const p of ports) lines.push(["--publish", `${p.address === "public" ? PUBLIC_VAR : p.address}:${p.port}:${p.port}/${p.protocol}`]);
  lines.push([c.image]);
  return lines;
}

/** The systemd unit of one container on host `host` of datacenter `datacenter` (container `<datacenter>-<id>`). */
export function renderUnit(datacenter: string, domain: string, host: string, c: ServerContainer): string {
  const name = containerName(datacenter, c.id);
  const mount = c.volume ? [`RequiresMountsFor=${VOLUMES}/${c.id}`] : [];
  return [
    "[Unit]",
    `Description=serverpark ${c.id} (${datacenter}, host ${host})`,
    `After=docker.service serverpark-network.service ${EGRESS_UNIT}`,
    `Requires=docker.service serverpark-network.service ${EGRESS_UNIT}`,
    ...mount,
    "",
    "[Service]",
    `EnvironmentFile=${PUBLIC_ENV}`,
    // The launch's "unless-stopped": systemd restarts the unit whenever it exits, never after `systemctl stop`.
    "Restart=always",
    "RestartSec=5",
    "TimeoutStartSec=600",
    `ExecStartPre=-/usr/bin/docker rm -f ${name}`,
    ...(c.volume ? [`ExecStartPre=/bin/chown 1000:1000 ${VOLUMES}/${c.id}`] : []),
    ...(c.backup ? [`ExecStartPre=/bin/mkdir -p ${BACKUPS}/${c.id}`, `ExecStartPre=/bin/chown 1000:1000 ${BACKUPS}/${c.id}`] : []),
    ...(c.sites ? [`ExecStartPre=/bin/mkdir -p ${SITES}/${c.id}`, `ExecStartPre=/bin/chown 1000:1000 ${SITES}/${c.id}`] : []),
    ...(c.state ? [`ExecStartPre=/bin/mkdir -p ${STATE}/${c.id}`, `ExecStartPre=/bin/chown 1000:1000 ${STATE}/${c.id}`] : []),
    `ExecStart=${dockerRunLines(name, domain, c)
      .map((line) => line.map(systemdArg).join(" "))
      .join(" \\\n  ")}`,
    `ExecStop=/usr/bin/docker stop --time 20 ${name}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** Adds the alias addresses and records the public IPv4; bounded waits, fails loudly. */
export function networkScript(networks: readonly ServerNetwork[]): string {
  const lines = [
    "#!/bin/sh",
    "# Generated by serverpark: planned addresses of this server's replicas on its private networks.",
    "set -eu",
    "mkdir -p /run/serverpark",
    "ip4=''",
    'for _ in $(seq 1 30); do ip4=$(curl -fsS --max-time 2 http://169.254.169.254/hetzner/v1/metadata/public-ipv4 || true); [ -n "$ip4" ] && break; sleep 2; done',
    "[ -n \"$ip4\" ] || { echo 'serverpark: no public IPv4 from the metadata service' >&2; exit 1; }",
    `echo "SP_PUBLIC_IPV4=$ip4" > ${PUBLIC_ENV}`,
    "# The interface of a network is the one DHCP gave the server's primary address on it.",
    "alias_on() {",
    "  primary=$1; shift; dev=''",
    '  for _ in $(seq 1 60); do dev=$(ip -o -4 addr show | awk -v ip="$primary" \'index($4, ip "/") == 1 { print $2; exit }\'); [ -n "$dev" ] && break; sleep 2; done',
    '  [ -n "$dev" ] || { echo "serverpark: no interface has $primary" >&2; exit 1; }',
    '  for a in "$@"; do ip addr replace "$a/32" dev "$dev"; done',
    "}",
  ];
  for (const n of networks) lines.push(`alias_on ${n.primary}${n.aliases.map((a) => ` ${a}`).join("")} # ${n.id}`);
  return lines.join("\n") + "\n";
}

export const NETWORK_UNIT = [
  "[Unit]",
  "Description=serverpark planned addresses and public IPv4",
  "After=network-online.target",
  "Wants=network-online.target",
  "",
  "[Service]",
  "Type=oneshot",
  "RemainAfterExit=yes",
  `ExecStart=${NETWORK_SCRIPT}`,
  "",
  "[Install]",
  "WantedBy=multi-user.target",
  "",
].join("\n");

/** A replica's Hetzner volume in fstab, so that systemd waits for the attachment (it may come after boot). */
export function volumeFstabLine(replica: string, volumeId: string): string {
  return `/dev/disk/by-id/scsi-0HC_Volume_${volumeId} ${VOLUMES}/${replica} ext4 discard,nofail,x-systemd.device-timeout=10min 0 2`;
}
