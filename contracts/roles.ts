/**
 * The catalogue of server roles: what each role listens on, whether it keeps state, and
 * which of its ports may be published to the internet. The planner derives the exposure
 * matrix and the DNS zone from this table; targets derive health checks and volumes.
 */
import { DATA_PATHS } from "./paths";

export const ROLES = ["web", "proxy", "dns", "mail", "file", "db", "game", "noc"] as const;
export type Role = (typeof ROLES)[number];

export type Protocol = "tcp" | "udp";
export type Publish = "internet" | "operator" | "none";

export interface RolePort {
  /** Stable port name, used in endpoint names ("https", "smtp"). */
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  /**
   * Who may reach the port from outside the datacenter: `internet` ports are published when
   * the service sits on an internet network; `operator` ports are published only on the
   * operator address (127.0.0.1 locally, the admin CIDRs in the cloud); `none` stay inside.
   */
  readonly publish: Publish;
  /**
   * One of a range of ports the server names to its clients (FTP's passive ports, which
   * PASV/EPSV replies name), so outside the datacenter it must be reached under the number the
   * server listens on. The Hetzner target publishes it under its catalogue number (one server
   * per host); the Docker target, whose stacks share one machine's ports, allocates the range
   * per stack like every published port and moves the server onto it with the role's
   * `portRangeEnv` (components/targets/docker/hostPorts.ts).
   */
  readonly sameNumberOutside?: true;
}

export interface RoleInfo {
  readonly role: Role;
  readonly description: string;
  /** Keeps data that must survive a restart: gets a volume and needs a backup. */
  readonly stateful: boolean;
  /** Where the role's data volume is mounted inside the container. */
  readonly dataPath?: string;
  readonly ports: readonly RolePort[];
  /** The variable (`from-to`) that moves the role's `sameNumberOutside` ports onto another range. */
  readonly portRangeEnv?: string;
}

/** Every server listens for /healthz and /metrics on this port, bound to its management address. */
export const MANAGEMENT_PORT = 9100;

/**
 * FTP passive data ports of the file role. The model has no port ranges, so each is its own
 * port (`ftp-passive-30000`...): the plan's exposure matrix, the Docker networks and the
 * Hetzner container publishing then follow it like any other port. Kept small on purpose.
 * Published (with SFTP and FTP) when the file service sits on an internet network, which
 * validation allows only for a file service that holds hosting customers' accounts. These are
 * the numbers on Hetzner; the Docker target gives each stack's file replica its own range of
 * host ports and sets FTP_PASSIVE_PORTS_ENV to it, so two local datacenters never clash.
 */
export const FTP_PASSIVE_PORTS = { from: 30000, to: 30009 } as const;
/** The file server's passive range (`from-to`); FTP_PASSIVE_PORTS by default. */
export const FTP_PASSIVE_PORTS_ENV = "SP_FILE_FTP_PASSIVE_PORTS";

const tcp = (name: string, port: number, publish: Publish): RolePort => ({ name, port, protocol: "tcp", publish });
const udp = (name: string, port: number, publish: Publish): RolePort => ({ name, port, protocol: "udp", publish });

export const ROLE_INFO: Readonly<Record<Role, RoleInfo>> = {
  web: { role: "web", description: "static sites by virtual host", stateful: false, ports: [tcp("http", 8080, "none"), tcp("https", 8443, "none")] },
  proxy: {
    role: "proxy",
    description: "public entrance: TLS, routing, load balancing",
    stateful: false,
    ports: [tcp("http", 80, "internet"), tcp("https", 443, "internet")],
  },
  dns: {
    role: "dns",
    description: "authoritative DNS for the datacenter zone",
    stateful: false,
    ports: [udp("dns", 53, "internet"), tcp("dns-tcp", 53, "internet")],
  },
  mail: {
    role: "mail",
    description: "SMTP, submission, IMAP and POP3",
    stateful: true,
    dataPath: DATA_PATHS.mail,
    ports: [tcp("smtp", 25, "internet"), tcp("submission", 587, "internet"), tcp("imaps", 993, "internet"), tcp("pop3s", 995, "internet")],
  },
  file: {
    role: "file",
    description: "SFTP and FTP/FTPS with versions",
    stateful: true,
    dataPath: DATA_PATHS.file,
    // Customers reach their accounts from the internet when the service sits on an internet network.
    ports: [
      tcp("sftp", 22, "internet"),
      tcp("ftp", 21, "internet"),
      ...Array.from({ length: FTP_PASSIVE_PORTS.to - FTP_PASSIVE_PORTS.from + 1 }, (_, i) => ({
        ...tcp(`ftp-passive-${FTP_PASSIVE_PORTS.from + i}`, FTP_PASSIVE_PORTS.from + i, "internet"),
        sameNumberOutside: true as const,
      })),
    ],
    portRangeEnv: FTP_PASSIVE_PORTS_ENV,
  },
  db: { role: "db", description: "PostgreSQL-protocol database", stateful: true, dataPath: DATA_PATHS.db, ports: [tcp("postgres", 5432, "none")] },
  game: { role: "game", description: "real-time multiplayer over WebSocket", stateful: false, ports: [tcp("game", 7350, "internet")] },
  noc: { role: "noc", description: "probes, metrics and the live datacenter map", stateful: false, ports: [tcp("noc", 8080, "operator")] },
};

/**
 * The number of a role's named port in the catalogue, which servers take as the default of
 * their `SP_*_PORT` variable so the port the program wires and the port the server listens on
 * are one fact. An unknown name throws (at the server's start-up, and in the tests).
 */
export function rolePort(role: Role, name: string): number {
  const port = ROLE_INFO[role].ports.find((p) => p.name === name);
  if (!port) throw new Error(`role ${role} has no port named "${name}" (have: ${ROLE_INFO[role].ports.map((p) => p.name).join(", ")})`);
  return port.port;
}
