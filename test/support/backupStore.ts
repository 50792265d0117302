/**
 * A host agent keeping a backup store on loopback over real mutual TLS (images/host-agent,
 * contracts/backups.ts), for the tests of the store and of the roles that ship to it, and the
 * client certificate a replica gets to ship with.
 */
import { startHostAgent, type HostAgent } from "../../images/host-agent/src/agent";
import { hostAgentEnv } from "../../images/host-agent/src/config";
import { parseConfig } from "../../images/runtime/config";
import type { Logger } from "../../images/runtime/log";
import { BACKUP_CLIENT_OU } from "../../contracts/backups";
import { issueClient, type ManagementPki, type Pair } from "./managementPki";

/** The client certificate of `service`'s replica `replica` (CN `<service>/<replica>`). */
export function backupClient(pki: ManagementPki, service: string, replica: string): Pair {
  return issueClient(pki, `${service}-${replica}`, `/O=Serverpark/OU=${BACKUP_CLIENT_OU}/CN=${service}\\/${replica}`);
}

/** The client certificates of `names` (`<service>/<replica>`), by name. */
export function backupClients(pki: ManagementPki, names: readonly string[]): Record<string, Pair> {
  return Object.fromEntries(names.map((name) => [name, backupClient(pki, name.split("/")[0]!, name.split("/")[1]!)]));
}

/** Host h6's agent storing the copies of `clients` in `storeDir` (at most `maxBytes` each, when given). */
export async function startBackupStore(
  pki: ManagementPki,
  log: Logger,
  store: {
    readonly clients: readonly { service: string; retentionDays: number; quotaBytes?: number }[];
    readonly storeDir: string;
    readonly maxBytes?: number;
  },
): Promise<{ agent: HostAgent; url: string }> {
  const config = {
    ...parseConfig(hostAgentEnv, {
      SP_DATACENTER: "fra1",
      SP_HOST_ID: "h6",
      SP_RACK: "r3",
      SP_HOST_KIND: "dedicated",
      SP_PSUS: JSON.stringify([{ pdu: "pdu-a1", feed: "A" }]),
      SP_MGMT_PORT: "1",
      SP_BACKUP_CLIENTS: JSON.stringify(store.clients),
      SP_BACKUP_STORE_DIR: store.storeDir,
      ...(store.maxBytes !== undefined ? { SP_BACKUP_MAX_BYTES: String(store.maxBytes) } : {}),
    }),
    SP_MGMT_PORT: 0,
  };
  const agent = await startHostAgent(config, log, { host: "127.0.0.1", tls: { certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca } });
  return { agent, url: `https://127.0.0.1:${agent.management.port}` };
}
