/** Entry point of the host-agent image: its environment and the agent; the rest is images/runtime/bootstrap.ts. */
import { runServer } from "../../runtime";
import { startHostAgent } from "./agent";
import { hostAgentEnv } from "./config";

void runServer({
  name: "host-agent",
  env: hostAgentEnv,
  bindings: (env) => ({ datacenter: env.SP_DATACENTER, host: env.SP_HOST_ID }),
  start: async ({ env, log }) => {
    const agent = await startHostAgent(env, log);
    log.info({ rack: env.SP_RACK, kind: env.SP_HOST_KIND, psus: agent.power.psus }, "host agent started");
    // The agent serves its identity and power routes on its own management server.
    return { managementServer: agent.management };
  },
});
