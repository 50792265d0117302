/**
 * The host agent: one physical host of the datacenter, as a server. It answers who it
 * is (/identity), plays out power events (/power) and reports them as health and
 * metrics, so the NOC and the power-failure tests observe a host like real hardware.
 */
import { Gauge, Registry } from "prom-client";
import { z } from "zod";
import { HttpError, managementListener, startManagementServer, type Logger, type ManagementOptions, type ManagementServer } from "../../runtime";
import type { HostAgentConfig } from "./config";
import { PowerState, powerChangeSchema, type Psu } from "./power";
import { BackupStore } from "./store";

export interface HostAgent {
  readonly management: ManagementServer;
  readonly power: PowerState;
  /** The backup store, when services keep their backups on this host. */
  readonly store?: BackupStore;
}

/**
 * Starts the agent; `listener` defaults to what the environment says (SP_MGMT_ADDRESS and the
 * TLS files, images/runtime/bootstrap.ts). Tests pass one to run TLS on a loopback address.
 */
export async function startHostAgent(
  config: HostAgentConfig,
  log: Logger,
  listener: Pick<ManagementOptions, "host" | "tls" | "insecure"> = managementListener(process.env, config.SP_LISTEN),
): Promise<HostAgent> {
  const psus: Psu[] = config.SP_PSUS.map((p, i) => ({ id: p.id ?? `psu${i + 1}`, pdu: p.pdu, feed: p.feed }));
  const power = new PowerState(psus);
  const identity = {
    datacenter: config.SP_DATACENTER,
    host: config.SP_HOST_ID,
    rack: config.SP_RACK,
    kind: config.SP_HOST_KIND,
    psus,
  };

  const registry = new Registry();
  registerPowerMetrics(registry, config, power);
  const store =
    config.SP_BACKUP_CLIENTS.length > 0
      ? new BackupStore({ dir: config.SP_BACKUP_STORE_DIR, clients: config.SP_BACKUP_CLIENTS, maxBytes: config.SP_BACKUP_MAX_BYTES, log, registry })
      : undefined;
  await store?.start();

  const management = await startManagementServer({
    port: config.SP_MGMT_PORT,
    ...listener,
    log,
    registry,
    // An unpowered host is down: its health check fails like real hardware would.
    readiness: () => {
      const { powered } = power.snapshot();
      return { ready: powered, details: { host: config.SP_HOST_ID, powered } };
    },
    ...(store ? { streams: store.routes() } : {}),
    routes: [
      { method: "GET", path: "/identity", handler: () => ({ status: 200, body: identity }) },
      { method: "GET", path: "/power", handler: () => ({ status: 200, body: power.snapshot() }) },
      {
        method: "POST",
        path: "/power",
        handler: ({ body }) => {
          const parsed = powerChangeSchema.safeParse(body);
          if (!parsed.success) throw new HttpError(400, `invalid power change: ${z.prettifyError(parsed.error)}`);
          const before = power.snapshot();
          const problems = power.apply(parsed.data);
          if (problems.length > 0) throw new HttpError(400, problems.join("; "));
          const after = power.snapshot();
          log.info(
            { event: "power-change", change: parsed.data, poweredBefore: before.powered, powered: after.powered },
            after.powered === before.powered ? "power change" : after.powered ? "host powered on" : "host lost power",
          );
          return { status: 200, body: after };
        },
      },
    ],
  });
  return { management, power, ...(store ? { store } : {}) };
}

function registerPowerMetrics(registry: Registry, config: HostAgentConfig, power: PowerState): void {
  // Values are read from the model at scrape time, so metrics can never lag the state.
  new Gauge({
    name: "serverpark_host_powered",
    help: "1 while at least one power supply of the host delivers power",
    labelNames: ["host", "rack"] as const,
    registers: [registry],
    collect() {
      this.set({ host: config.SP_HOST_ID, rack: config.SP_RACK }, power.snapshot().powered ? 1 : 0);
    },
  });
  new Gauge({
    name: "serverpark_host_psu_powered",
    help: "1 while the power supply delivers power (unit healthy, PDU and feed up)",
    labelNames: ["host", "psu", "pdu", "feed"] as const,
    registers: [registry],
    collect() {
      for (const psu of power.snapshot().psus) {
        this.set({ host: config.SP_HOST_ID, psu: psu.id, pdu: psu.pdu, feed: psu.feed }, psu.powered ? 1 : 0);
      }
    },
  });
}
