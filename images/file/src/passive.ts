/**
 * FTP passive mode: the shared range of passive ports, who may hold them, and which address a
 * PASV reply names.
 *
 * Ports: a small fixed range, listened on all the time. PASV/EPSV reserves one for a session
 * until its data connection arrives (only from the control connection's client address) or the
 * reservation lapses. One user or one client address may hold at most half the range at once
 * (at least one port), so a user opening many sessions that send PASV and never connect cannot
 * take every port from everyone else.
 *
 * Address: on the local Docker target a replica owns its planned addresses, so the control
 * socket's local address is what the client reached. On the Hetzner target the container sits
 * behind Docker's NAT (`docker run --publish <planned address>:port`): the socket's local
 * address is the container's bridge address, which no client can reach. There the client's
 * own address tells which of the replica's networks it came from (Docker's iptables DNAT keeps
 * the source; the Hetzner target turns the userland proxy off), and the reply names the
 * replica's planned address on that network.
 */
import { BlockList, createServer, isIPv4, isIPv6, type Server, type Socket } from "node:net";
import type { Logger } from "../../runtime/log";

/** The replica's planned addresses (network id → address) and its networks' CIDRs (network id → CIDR), from the replica config. */
export interface PlannedAddresses {
  readonly addresses: Readonly<Record<string, string>>;
  readonly networks: Readonly<Record<string, string>>;
}

export type PassiveAddress =
  /** The socket's local address is one of the replica's planned ones (local Docker target, or no NAT). */
  | { readonly address: string; readonly via: "local" }
  /** Behind NAT: the replica's planned address on the network whose CIDR holds the client. */
  | { readonly address: string; readonly via: "network"; readonly network: string }
  /** No network holds the client (or no CIDRs known): the local address, which may be unreachable. */
  | { readonly address: string; readonly via: "fallback" }
  /** No plan at all (a bare `docker run`, tests): the local address, as the only thing known. */
  | { readonly address: string; readonly via: "unplanned" };

/** Strips the IPv4-mapped prefix a dual-stack socket reports (`::ffff:10.0.0.1` → `10.0.0.1`). */
export const plainIp = (address: string | undefined) => (address ?? "").replace(/^::ffff:/i, "");

function cidrHolds(cidr: string, ip: string): boolean {
  const slash = cidr.lastIndexOf("/");
  const base = cidr.slice(0, slash);
  const prefix = Number(cidr.slice(slash + 1));
  const family = isIPv4(base) ? "ipv4" : isIPv6(base) ? "ipv6" : undefined;
  if (slash < 0 || !family || !Number.isInteger(prefix)) return false;
  const type = isIPv4(ip) ? "ipv4" : isIPv6(ip) ? "ipv6" : undefined;
  if (!type) return false;
  const list = new BlockList();
  try {
    list.addSubnet(base, prefix, family);
  } catch {
    return false; // a prefix out of range: this network holds nobody
  }
  return list.check(ip, type);
}

/**
 * Which address a PASV reply names, for a control connection from `clientIp` that reached
 * this server on `localIp`. Pure: the same inputs always give the same answer.
 */
export function choosePassiveAddress(localIp: string, clientIp: string, planned: PlannedAddresses | undefined): PassiveAddress {
  const local = plainIp(localIp);
  const client = plainIp(clientIp);
  const own = planned ? Object.values(planned.addresses) : [];
  if (own.length === 0) return { address: local, via: "unplanned" };
  if (own.includes(local)) return { address: local, via: "local" };
  for (const network of Object.keys(planned!.networks).sort()) {
    const address = planned!.addresses[network];
    if (address && cidrHolds(planned!.networks[network]!, client)) return { address, via: "network", network };
  }
  return { address: local, via: "fallback" };
}

/** Who holds a reservation: a logged-in control connection. */
export interface PassiveOwner {
  readonly clientIp: string;
  readonly user: string | undefined;
  dataArrived(socket: Socket): void;
}

export type Reservation =
  { readonly ok: true; readonly port: number } | { readonly ok: false; readonly reason: "user" | "address" | "full"; readonly limit: number };

/** At most half the range per user and per client address, and at least one port. */
export const passiveCap = (ports: number) => Math.max(1, Math.floor(ports / 2));

/** Passive ports shared by every session: a port is reserved by one session until its data connection arrives. */
export class PassivePorts<O extends PassiveOwner = PassiveOwner> {
  private readonly servers: Server[] = [];
  private readonly reserved = new Map<number, O>();
  private next = 0;
  private warned = false;
  /** Reservations one user, and one client address, may hold at once. */
  readonly cap: number;

  constructor(
    readonly ports: readonly number[],
    private readonly log: Logger,
    private readonly planned?: PlannedAddresses,
  ) {
    this.cap = passiveCap(ports.length);
  }

  async listen(host: string): Promise<void> {
    for (const port of this.ports) {
      const server = createServer((socket) => {
        const owner = this.reserved.get(port);
        if (!owner || plainIp(socket.remoteAddress) !== owner.clientIp) {
          // Not expected (a probe, or someone else's client): nothing is ever served here.
          socket.destroy();
          return;
        }
        this.reserved.delete(port);
        owner.dataArrived(socket);
      });
      server.on("error", (error) => this.log.warn({ err: error, port }, "ftp passive listener error"));
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => (server.off("error", reject), resolve()));
      });
      this.servers.push(server);
    }
  }

  /** The address a PASV reply names for this control connection (warns once when it can only guess). */
  addressFor(localIp: string, clientIp: string): string {
    const choice = choosePassiveAddress(localIp, clientIp, this.planned);
    if (choice.via === "fallback" && !this.warned) {
      this.warned = true;
      this.log.warn(
        { localIp: choice.address, clientIp, planned: this.planned?.addresses, networks: this.planned?.networks },
        "ftp PASV: the client is on none of the replica's networks and the local address is not a planned one; naming the local address, which the client may not reach (EPSV works)",
      );
    }
    return choice.address;
  }

  /** A free port for `owner` (its earlier reservation is given up), unless its user or address is at the cap or all are taken. */
  reserve(owner: O): Reservation {
    this.release(owner);
    let byUser = 0;
    let byAddress = 0;
    for (const other of this.reserved.values()) {
      if (owner.user !== undefined && other.user === owner.user) byUser++;
      if (other.clientIp === owner.clientIp) byAddress++;
    }
    if (byUser >= this.cap) return { ok: false, reason: "user", limit: this.cap };
    if (byAddress >= this.cap) return { ok: false, reason: "address", limit: this.cap };
    for (let i = 0; i < this.ports.length; i++) {
      const port = this.ports[(this.next + i) % this.ports.length]!;
      if (!this.reserved.has(port)) {
        this.next = (this.next + i + 1) % this.ports.length;
        this.reserved.set(port, owner);
        return { ok: true, port };
      }
    }
    return { ok: false, reason: "full", limit: this.ports.length };
  }

  holds(owner: O): boolean {
    for (const o of this.reserved.values()) if (o === owner) return true;
    return false;
  }

  release(owner: O): void {
    for (const [port, o] of this.reserved) if (o === owner) this.reserved.delete(port);
  }

  close(): Promise<void> {
    return Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined);
  }
}
