/**
 * Cloud-init for one Hetzner server, as a pure function of plain values: the same input always
 * gives the same bytes (sorted keys, no timestamps, deterministic gzip), so it can be
 * snapshot-tested and a change in it shows up in `pulumi preview` exactly when a replica's
 * deployment changed.
 *
 * What the server does at boot:
 *  1. `serverpark-network.service` (every boot): puts the planned alias addresses on the
 *     private network interfaces (Hetzner's DHCP hands out only the primary one) and records
 *     the server's public IPv4 from the metadata service for port publishing.
 *  2. cloud-init installs Docker (Debian's docker.io), logs in to the registry.
 *  3. One systemd unit per container (host agent and each replica) runs `docker run` with the
 *     same hardening as the Docker target and publishes every port on exactly the planned
 *     address: role ports on the replica's addresses of the networks that may reach them,
 *     /healthz+/metrics on its management address, published ports on the public IPv4.
 */
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import type { ContainerLaunch, HealthCheck } from "../../model/launch";

export interface CloudInitFile {
  /** Absolute path inside the container. */
  readonly path: string;
  readonly content: string;
  /** Permissions for the container user (uid 1000 owns the file), e.g. 0o400 for a secret. */
  readonly mode: number;
}

export interface CloudInitPort {
  /** A planned address, or `public` for the server's public IPv4. */
  readonly address: string | "public";
  readonly port: number;
  readonly protocol: "tcp" | "udp";
}

/** A container as its launch describes it (hostname, domain, env, health check, resolvers), resolved to plain values. */
export interface CloudInitContainer extends Pick<ContainerLaunch, "hostname" | "domain" | "env" | "health" | "resolvers"> {
  /** Container and unit name suffix: the replica id, or `host-agent`. */
  readonly id: string;
  /** The image reference to pull and run. */
  readonly image: string;
  readonly ports: readonly CloudInitPort[];
  readonly files: readonly CloudInitFile[];
  readonly cpus: number;
  readonly memoryGb: number;
  /** Mount the replica's volume (see `CloudInitInput.volumes`) at `containerPath`. */
  readonly volume?: { readonly containerPath: string };
  /** Mount the replica's backup directory on the server's disk (BACKUPS/<id>) at `containerPath`. */
  readonly backup?: { readonly containerPath: string };
}

export interface CloudInitNetwork {
  readonly id: string;
  /** The server's address on the network (given by Hetzner's DHCP). */
  readonly primary: string;
  /** Further planned addresses routed to this server (replicas' addresses). */
  readonly aliases: readonly string[];
}

export interface CloudInitInput {
  readonly datacenter: string;
  readonly domain: string;
  readonly host: string;
  readonly networks: readonly CloudInitNetwork[];
  readonly registry: { readonly server: string; readonly username: string; readonly password: string };
  readonly containers: readonly CloudInitContainer[];
  /** Hetzner volumes attached to this server, mounted at /srv/serverpark/volumes/<replica>. */
  readonly volumes: readonly { readonly replica: string; readonly id: string }[];
}

const ETC = "/etc/serverpark";
const VOLUMES = "/srv/serverpark/volumes";
/** Backups of a replica: on the server's own disk, apart from its data volume (off the host: issue #17). */
const BACKUPS = "/srv/serverpark/backups";
const PUBLIC_ENV = "/run/serverpark/public.env";
const PUBLIC_VAR = "${SP_PUBLIC_IPV4}";
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

/** Stable, readable file name for a container path: /etc/serverpark/tls/tls.key → etc_serverpark_tls_tls.key */
export function fileSlug(path: string): string {
  return path.replace(/^\/+/, "").replace(/[^A-Za-z0-9._-]/g, "_");
}

/** gzip + base64 with a fixed header (mtime 0), so the same content always encodes the same. */
function gz(content: string): string {
  return gzipSync(Buffer.from(content, "utf8"), { level: 9 }).toString("base64");
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

function containerName(input: CloudInitInput, c: CloudInitContainer): string {
  return `${input.datacenter}-${c.id}`;
}

/** `docker run` as lines of one flag and its value each, so the unit reads like a compose file. */
function dockerRunLines(input: CloudInitInput, c: CloudInitContainer): string[][] {
  const dir = `${ETC}/containers/${c.id}`;
  const memory = `${Math.max(16, Math.round(c.memoryGb * 1024))}m`;
  const lines: string[][] = [
    ["/usr/bin/docker", "run", "--rm", "--name", containerName(input, c)],
    ["--hostname", c.hostname],
    ...(c.domain ? [["--domainname", c.domain]] : []),
    ["--env-file", `${dir}/env`],
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
  for (const r of c.resolvers) lines.push(["--dns", r]);
  if (c.resolvers.length > 0) lines.push(["--dns-search", c.domain ?? input.domain]);
  for (const f of c.files) lines.push(["--volume", `${dir}/files/${fileSlug(f.path)}:${f.path}:ro`]);
  if (c.volume) lines.push(["--volume", `${VOLUMES}/${c.id}:${c.volume.containerPath}`]);
  if (c.backup) lines.push(["--volume", `${BACKUPS}/${c.id}:${c.backup.containerPath}`]);
  const ports = [...c.ports].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || a.address.localeCompare(b.address));
  for (const p of ports) lines.push(["--publish", `${p.address === "public" ? PUBLIC_VAR : p.address}:${p.port}:${p.port}/${p.protocol}`]);
  lines.push([c.image]);
  return lines;
}

function unit(input: CloudInitInput, c: CloudInitContainer): string {
  const name = containerName(input, c);
  const mount = c.volume ? [`RequiresMountsFor=${VOLUMES}/${c.id}`] : [];
  return [
    "[Unit]",
    `Description=serverpark ${c.id} (${input.datacenter}, host ${input.host})`,
    "After=docker.service serverpark-network.service",
    "Requires=docker.service serverpark-network.service",
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
    `ExecStart=${dockerRunLines(input, c)
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
function networkScript(input: CloudInitInput): string {
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
  for (const n of input.networks) lines.push(`alias_on ${n.primary}${n.aliases.map((a) => ` ${a}`).join("")} # ${n.id}`);
  return lines.join("\n") + "\n";
}

const NETWORK_UNIT = [
  "[Unit]",
  "Description=serverpark planned addresses and public IPv4",
  "After=network-online.target",
  "Wants=network-online.target",
  "",
  "[Service]",
  "Type=oneshot",
  "RemainAfterExit=yes",
  "ExecStart=/usr/local/sbin/serverpark-network",
  "",
  "[Install]",
  "WantedBy=multi-user.target",
  "",
].join("\n");

const DAEMON_JSON =
  JSON.stringify({ "live-restore": true, "log-driver": "json-file", "log-opts": { "max-file": "3", "max-size": "10m" }, "userland-proxy": false }, null, 2) +
  "\n";

interface WriteFile {
  path: string;
  content: string;
  permissions: string;
  encoding?: "gz+b64";
}

export function renderCloudInit(input: CloudInitInput): string {
  const files: WriteFile[] = [
    { path: "/etc/docker/daemon.json", content: DAEMON_JSON, permissions: "0644" },
    { path: "/usr/local/sbin/serverpark-network", content: networkScript(input), permissions: "0755" },
    { path: "/etc/systemd/system/serverpark-network.service", content: NETWORK_UNIT, permissions: "0644" },
    { path: `${ETC}/registry-password`, content: gz(input.registry.password), permissions: "0600", encoding: "gz+b64" },
  ];
  const containers = [...input.containers].sort((a, b) => a.id.localeCompare(b.id));
  const fstab: string[] = [];
  for (const c of containers) {
    const dir = `${ETC}/containers/${c.id}`;
    const env =
      Object.keys(c.env)
        .sort()
        .map((k) => `${k}=${c.env[k]}`)
        .join("\n") + "\n";
    files.push({ path: `${dir}/env`, content: env, permissions: "0644" });
    for (const f of [...c.files].sort((a, b) => a.path.localeCompare(b.path))) {
      // Readable by the container user only (chowned in runcmd: cloud-init knows no uid 1000 user).
      files.push({ path: `${dir}/files/${fileSlug(f.path)}`, content: gz(f.content), permissions: f.mode.toString(8).padStart(4, "0"), encoding: "gz+b64" });
    }
    files.push({ path: `/etc/systemd/system/serverpark-${c.id}.service`, content: unit(input, c), permissions: "0644" });
  }
  // Mounted through fstab so that systemd waits for the attachment (it may come after boot).
  for (const v of [...input.volumes].sort((a, b) => a.replica.localeCompare(b.replica))) {
    fstab.push(`/dev/disk/by-id/scsi-0HC_Volume_${v.id} ${VOLUMES}/${v.replica} ext4 discard,nofail,x-systemd.device-timeout=10min 0 2`);
  }
  const units = ["serverpark-network.service", ...containers.map((c) => `serverpark-${c.id}.service`)];
  const runcmd: (string | string[])[] = [
    ["chown", "-R", "1000:1000", `${ETC}/containers`],
    ...fstab.flatMap((line) => [
      ["mkdir", "-p", line.split(" ")[1]!],
      ["sh", "-c", `grep -qF '${line}' /etc/fstab || echo '${line}' >> /etc/fstab`],
    ]),
    ["systemctl", "daemon-reload"],
    [
      "sh",
      "-c",
      `for _ in $(seq 1 10); do docker login --username '${input.registry.username.replace(/'/g, "")}' --password-stdin '${input.registry.server}' < ${ETC}/registry-password && exit 0; sleep 6; done; exit 1`,
    ],
    ["systemctl", "enable", "--now", ...units],
  ];
  const config = {
    hostname: `${input.host}`,
    fqdn: `${input.host}.${input.domain}`,
    package_update: true,
    packages: ["curl", "docker.io"],
    write_files: files.map((f) => ({
      path: f.path,
      permissions: f.permissions,
      owner: "root:root",
      ...(f.encoding ? { encoding: f.encoding } : {}),
      content: f.content,
    })),
    runcmd,
  };
  return "#cloud-config\n" + stringify(config, { lineWidth: 0, blockQuote: "literal" });
}
