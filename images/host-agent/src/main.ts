/** Entry point of the host-agent image: config, logger, servers, graceful shutdown. */
import { createLogger, installShutdown, loadConfig } from "../../runtime";
import { startHostAgent } from "./agent";
import { hostAgentEnv } from "./config";

async function main(): Promise<void> {
  const config = loadConfig(hostAgentEnv);
  const log = createLogger({
    role: "host-agent",
    level: config.SP_LOG_LEVEL,
    bindings: { datacenter: config.SP_DATACENTER, host: config.SP_HOST_ID },
  });
  const agent = await startHostAgent(config, log);
  installShutdown({
    log,
    deadlineMs: config.SP_SHUTDOWN_DEADLINE_MS,
    steps: [{ name: "management server", run: () => agent.management.close() }],
  });
  log.info({ rack: config.SP_RACK, kind: config.SP_HOST_KIND, psus: agent.power.psus }, "host agent started");
}

main().catch((error: unknown) => {
  process.stderr.write(`host-agent failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
