/**
 * Every role's Dockerfile, made from one template and a small table of what differs per role
 * (description, defaults in ENV, data folders, an extra COPY, the health check's grace).
 * Ports come from the role catalogue (contracts/roles.ts), so EXPOSE cannot drift
 * from what the plan publishes. `npx tsx images/build.ts --dockerfiles` writes
 * images/<role>/Dockerfile; test/unit/dockerfiles.test.ts fails when one differs from this.
 *
 * The files stay in each role's folder, written out, because everything that builds an
 * image uses `images/<role>` as its context and that Dockerfile (both targets, the offline
 * applier, `docker build -t serverpark/<role> images/<role>`), and the image tag hashes the
 * Dockerfile's text with what its COPY lines take (components/targets/docker/images.ts).
 */
import { BACKUP_STORE_PATH } from "../contracts/backups";
import { BACKUP_PATH, CUSTOMER_SITES_PATH, DATA_PATHS, PROXY_ACME_PATH } from "../contracts/paths";
import { MANAGEMENT_PORT, ROLE_INFO, type Role, type RolePort } from "../contracts/roles";

/** What one role's image adds to the template. */
export interface RoleImage {
  /** The OCI description label. */
  readonly description: string;
  /** The first comment line: what the role is. */
  readonly summary: string;
  /** Defaults baked into the image (the server has the same defaults; these document them). */
  readonly env?: Readonly<Record<string, string>>;
  /** Folders the non-root server writes: created owned by it, mode 700 (volumes inherit both). */
  readonly dataDirs?: readonly string[];
  /** The data volume; its folder must be among `dataDirs`. */
  readonly volume?: string;
  /** COPY lines instead of `COPY dist/ /app/` (sources must lie in dist/). */
  readonly copy?: readonly string[];
  /** A comment above the COPY lines. */
  readonly copyNote?: string;
  /** Seconds the health check waits before failures count. @default 10 */
  readonly startPeriodSeconds?: number;
}

const BACKUP = BACKUP_PATH;

export const ROLE_IMAGES: Readonly<Record<Role | "host-agent", RoleImage>> = {
  web: {
    summary: "static sites by virtual host",
    description: "Serverpark web: static hosting for many sites by virtual host (TLS SNI, ranges, compression)",
    env: { SP_HTTP_PORT: "8080", SP_HTTPS_PORT: "8443" },
    // The customers' sites volume (read-only here): whichever container mounts it first gives it this folder's owner.
    dataDirs: [CUSTOMER_SITES_PATH],
  },
  proxy: {
    summary: "the datacenter's public entrance",
    description: "Serverpark proxy: TLS termination, routing, load balancing, health checks, caching and limits",
    env: { SP_HTTP_PORT: "80", SP_HTTPS_PORT: "443" },
    // With customers' certificates from an ACME CA, its account key and the certificates live on a volume mounted here.
    dataDirs: [PROXY_ACME_PATH],
  },
  dns: {
    summary: "the datacenter's authoritative DNS server",
    description: "Serverpark dns: authoritative DNS (UDP+TCP, EDNS0, RRL) for the datacenter's zones",
    env: { SP_DNS_PORT: "53" },
  },
  mail: {
    summary: "SMTP (25), submission (587), IMAPS (993) and POP3S (995) with durable mailboxes",
    description: "Serverpark mail: SMTP inbound and submission, durable mailboxes, IMAP and POP3 over TLS",
    env: { SP_MAIL_DATA: DATA_PATHS.mail },
    dataDirs: [DATA_PATHS.mail, BACKUP],
    volume: DATA_PATHS.mail,
  },
  file: {
    summary: "SFTP and FTP/FTPS with per-user trees, versions, quotas and backups",
    description: "Serverpark file: SFTP and FTPS with per-user confinement, automatic versions, quotas and backups",
    env: { SP_FILE_DATA: DATA_PATHS.file },
    // CUSTOMER_SITES_PATH: where the customers' sites are published (a volume the web replicas mount read-only).
    dataDirs: [DATA_PATHS.file, BACKUP, CUSTOMER_SITES_PATH],
    volume: DATA_PATHS.file,
  },
  db: {
    summary: "Debian's PostgreSQL 15 supervised by our TypeScript server",
    description: "Serverpark db: PostgreSQL 15 with password auth, persistence on a volume and scheduled dumps",
    env: { SP_DB_DATA: DATA_PATHS.db, TZ: "UTC" },
    // /var/run/postgresql: PostgreSQL's compiled-in socket folder, which pg_autoctl (HA, src/ha/) uses.
    dataDirs: [DATA_PATHS.db, BACKUP, "/var/run/postgresql"],
    volume: DATA_PATHS.db,
    // build.ts runs images/db/prepare.sh, which puts PostgreSQL's binaries and libraries in dist/pg.
    copy: ["COPY dist/pg/ /", "COPY dist/*.mjs dist/*.map /app/"],
    copyNote: "PostgreSQL's files (dist/pg, made by prepare.sh during the build) go to their Debian paths.",
    // initdb on a fresh volume takes a while.
    startPeriodSeconds: 60,
  },
  game: {
    summary: "the authoritative real-time arena server",
    description: "Serverpark game: authoritative multiplayer arena over WebSocket (fixed tick, validated inputs, delta snapshots) with a browser client",
    env: { SP_GAME_PORT: "7350" },
  },
  noc: {
    summary: "probes every service over its own protocol and shows the live datacenter map",
    description:
      "Serverpark NOC: protocol probes of every replica, Prometheus metrics, and an authenticated live map of feeds, PDUs, racks, hosts and replicas",
    env: { SP_NOC_PORT: "8080" },
  },
  "host-agent": {
    summary: "one physical host of the datacenter as a small server",
    description:
      "Serverpark host agent: identity, simulated power state, health and metrics of one datacenter host, and the backup store of the services that target it",
    dataDirs: [BACKUP_STORE_PATH],
  },
};

const suffix = (protocol: string) => (protocol === "tcp" ? "" : `/${protocol}`);

/**
 * EXPOSE's words: the role's ports in number order (TCP plain, as Docker defaults to it; UDP
 * as `53/udp`), three or more consecutive ones as a range, then the management port.
 */
export function exposeList(ports: readonly RolePort[]): string[] {
  const sorted = [...ports].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
  const words: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1]!.protocol === sorted[i]!.protocol && sorted[j + 1]!.port === sorted[j]!.port + 1) j++;
    const { port, protocol } = sorted[i]!;
    if (j - i >= 2) {
      words.push(`${port}-${sorted[j]!.port}${suffix(protocol)}`);
      i = j + 1;
    } else {
      words.push(`${port}${suffix(protocol)}`);
      i++;
    }
  }
  return [...words, String(MANAGEMENT_PORT)];
}

/** The Dockerfile of `role`, as images/<role>/Dockerfile holds it. */
export function renderDockerfile(role: keyof typeof ROLE_IMAGES): string {
  const image = ROLE_IMAGES[role];
  const ports = role === "host-agent" ? [] : ROLE_INFO[role].ports;
  const env = { NODE_ENV: "production", NODE_OPTIONS: "--enable-source-maps", SP_MGMT_PORT: String(MANAGEMENT_PORT), ...image.env };
  const dirs = image.dataDirs ?? [];
  const lines = [
    `# ${role}: ${image.summary} (see README.md).`,
    "# Generated from images/dockerfiles.ts by `npx tsx images/build.ts --dockerfiles`: edit it there.",
    `# Build context is this folder; run \`npm run build:images ${role}\` first: the image only copies`,
    "# the prebuilt bundle in dist/, so building it needs no network and no npm.",
    "FROM node:24-bookworm-slim",
    "",
    "ARG VERSION=dev",
    "ARG SOURCE=https://example.invalid/serverpark",
    `LABEL org.opencontainers.image.title="serverpark-${role}" \\`,
    `      org.opencontainers.image.description="${image.description}" \\`,
    '      org.opencontainers.image.source="${SOURCE}" \\',
    '      org.opencontainers.image.version="${VERSION}"',
    "",
    `ENV ${Object.entries(env)
      .map(([name, value]) => `${name}=${value}`)
      .join(" \\\n    ")}`,
    "WORKDIR /app",
    ...(image.copyNote ? [`# ${image.copyNote}`] : []),
    "# Owned by root: the service user can read the code but cannot change it at run time.",
    ...(image.copy ?? ["COPY dist/ /app/"]),
    ...(dirs.length > 0
      ? [
          "# The data and backup volumes inherit these folders' owner and mode, so the non-root server can write.",
          `RUN mkdir -p ${dirs.join(" ")} && chown 1000:1000 ${dirs.join(" ")} \\\n    && chmod 700 ${dirs.join(" ")}`,
        ]
      : []),
    "USER node",
    ...(image.volume ? [`VOLUME ["${image.volume}"]`] : []),
    `EXPOSE ${exposeList(ports).join(" ")}`,
    `HEALTHCHECK --interval=5s --timeout=3s --start-period=${image.startPeriodSeconds ?? 10}s --retries=3 CMD ["node","/app/healthcheck.mjs"]`,
    'ENTRYPOINT ["node","/app/main.mjs"]',
  ];
  return `${lines.join("\n")}\n`;
}
