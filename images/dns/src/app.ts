/**
 * The dns role assembled: zones from the replica config (final: the plan's zones with the
 * records of the settings merged in by the program), the UDP/TCP server, and a reload that swaps in new zones
 * without a restart (SIGHUP, a change of the config file, or POST /reload). A reload that
 * fails keeps serving the previous zones and says why.
 */
import { watchFile, unwatchFile } from "node:fs";
import { Gauge, Registry } from "prom-client";
import type { DnsZone } from "../../../contracts/dns";
import type { Logger } from "../../runtime/log";
import { readReplicaConfig, type ReplicaConfig } from "../../runtime/replica";
import { dnsSettingsSchema, type DnsSettings } from "../../../contracts/settings/dns";
import { startDnsServer, type DnsServer } from "./server";
import { ZoneSet } from "./zones";

export type DnsConfig = ReplicaConfig<DnsSettings>;

/**
 * Zones of a replica config, final as the program computed them (the settings' `records` are
 * already merged in); throws with a message naming the bad record or zone.
 */
export function zonesOf(config: DnsConfig): ZoneSet {
  // The config's schema checked each zone's shape; the ZoneSet checks each record's data by type.
  return new ZoneSet((config.zones ?? []) as readonly DnsZone[]);
}

export interface DnsAppOptions {
  readonly configPath?: string;
  readonly host: string;
  readonly port: number;
  readonly log: Logger;
  readonly registry?: Registry;
  /** How often the config file's mtime is checked; 0 disables watching. @default 2000 */
  readonly watchIntervalMs?: number;
}

export interface DnsApp {
  readonly server: DnsServer;
  readonly registry: Registry;
  zones(): ZoneSet;
  /** Re-reads the config; resolves to the new serials, rejects (keeping the old zones) on error. */
  reload(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function startDnsApp(options: DnsAppOptions): Promise<DnsApp> {
  const { log } = options;
  const registry = options.registry ?? new Registry();
  const initial = readReplicaConfig(options.configPath, dnsSettingsSchema);
  let zones = zonesOf(initial);
  const serial = new Gauge({ name: "dns_zone_serial", help: "SOA serial of each served zone", labelNames: ["zone"], registers: [registry] });
  const publish = () => {
    serial.reset();
    for (const [zone, value] of Object.entries(zones.serials())) serial.set({ zone }, value);
  };
  publish();

  const server = await startDnsServer({ host: options.host, port: options.port, settings: initial.settings, zones: () => zones, log, registry });

  const reload = async () => {
    // Server settings (ports, limits) need a restart; records and zones do not.
    const next = zonesOf(readReplicaConfig(options.configPath, dnsSettingsSchema));
    zones = next;
    publish();
    log.info({ serials: zones.serials() }, "zones reloaded");
    return zones.serials();
  };
  const safeReload = () => reload().catch((error: unknown) => log.error({ err: error }, "zone reload failed; still serving the previous zones"));

  const onHup = () => void safeReload();
  process.on("SIGHUP", onHup);
  const interval = options.watchIntervalMs ?? 2000;
  const watched = options.configPath;
  if (watched && interval > 0) watchFile(watched, { interval, persistent: false }, (now, before) => now.mtimeMs !== before.mtimeMs && void safeReload());

  return {
    server,
    registry,
    zones: () => zones,
    reload,
    close: async () => {
      process.off("SIGHUP", onHup);
      if (watched) unwatchFile(watched);
      await server.close();
    },
  };
}
