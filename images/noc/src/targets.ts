/**
 * Probe targets from the runtime config: every port of every replica of every service
 * (but the NOC itself), each reached on a network the NOC shares with the replica —
 * the management network first, since every replica has an address there. FTP's passive
 * data ports are not probed: they only carry data for a session that reserved them (the
 * `ftp` control port's probe covers the service), and a bare connect proves nothing.
 */
import type { ProbeTarget } from "./probes";

/** Ports that are not services of their own (see above). */
export const UNPROBED_PORT = /^ftp-passive-\d+$/;

export interface DirectoryLike {
  readonly id: string;
  readonly role: string;
  readonly ports: readonly { readonly name: string; readonly port: number; readonly protocol: string }[];
  readonly replicas: readonly { readonly id: string; readonly host: string; readonly addresses: Readonly<Record<string, string>> }[];
}

export interface TargetList {
  readonly targets: ProbeTarget[];
  /** Replicas the NOC shares no network with: drawn "unknown", never probed. */
  readonly unreachable: string[];
}

/**
 * @param own the NOC replica's addresses (network id → address); its networks decide the route.
 * @param self the NOC's own service id, skipped.
 */
export function probeTargets(directory: readonly DirectoryLike[], own: Readonly<Record<string, string>>, self?: string, preferred = "mgmt"): TargetList {
  const networks = Object.keys(own).sort((a, b) => Number(b === preferred) - Number(a === preferred) || a.localeCompare(b));
  const targets: ProbeTarget[] = [];
  const unreachable: string[] = [];
  for (const service of directory) {
    if (service.id === self) continue;
    for (const replica of service.replicas) {
      const net = networks.find((n) => replica.addresses[n]);
      if (!net) {
        unreachable.push(replica.id);
        continue;
      }
      for (const port of service.ports.filter((p) => !UNPROBED_PORT.test(p.name))) {
        targets.push({
          service: service.id,
          role: service.role,
          replica: replica.id,
          host: replica.host,
          port: { name: port.name, port: port.port, protocol: port.protocol },
          address: replica.addresses[net]!,
        });
      }
    }
  }
  return { targets, unreachable };
}
