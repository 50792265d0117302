/**
 * Real host agents (images/host-agent) in this process, each on its own loopback address with
 * mutual TLS from a throwaway CA (test/support/managementPki.ts), for the NOC's power reads.
 * Each agent also binds 127.0.0.1 for its container-local plain listener, so each gets its
 * own port: one free on both addresses (other test files bind ports on 127.0.0.1 meanwhile,
 * hence the retry).
 */
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { startHostAgent, type HostAgent } from "../../images/host-agent/src/agent";
import { hostAgentEnv } from "../../images/host-agent/src/config";
import { parseConfig } from "../../images/runtime/config";
import { createLogger } from "../../images/runtime/log";
import type { Pair } from "../support/managementPki";

const run = promisify(execFile);

export interface AgentSpec {
  readonly host: string;
  readonly rack: string;
  readonly psus: readonly { pdu: string; feed: string }[];
  readonly address: string;
  /** The agent's server certificate, and the CA it checks callers against. */
  readonly server: Pair;
  readonly clientCa: string;
}

/** A port free on `address` and on 127.0.0.1 at the moment of asking. */
async function freePortOn(address: string): Promise<number> {
  const bind = (host: string, port: number) =>
    new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(port, host, () => {
        const bound = (s.address() as { port: number }).port;
        s.close(() => resolve(bound));
      });
    });
  for (;;) {
    const port = await bind(address, 0);
    if (
      await bind("127.0.0.1", port).then(
        () => true,
        () => false,
      )
    )
      return port;
  }
}

export async function startAgent(spec: AgentSpec): Promise<HostAgent> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startAgentOnce(spec, await freePortOn(spec.address));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt === 5) throw error;
    }
  }
}

async function startAgentOnce(spec: AgentSpec, port: number): Promise<HostAgent> {
  const env = {
    SP_DATACENTER: "fra1",
    SP_HOST_ID: spec.host,
    SP_RACK: spec.rack,
    SP_HOST_KIND: "dedicated",
    SP_PSUS: JSON.stringify(spec.psus),
  };
  const config = { ...parseConfig(hostAgentEnv, env), SP_MGMT_PORT: port };
  return startHostAgent(config, createLogger({ role: "host-agent", level: "silent" }), {
    host: spec.address,
    tls: { certFile: spec.server.cert, keyFile: spec.server.key, caFile: spec.clientCa },
  });
}

/** POST /power as the operator, with curl (a client we did not write); returns the HTTP status. */
export async function curlPower(address: string, port: number, ca: string, as: Pair, body: object): Promise<string> {
  const { stdout } = await run("curl", [
    "-s",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    "--max-time",
    "10",
    "--cacert",
    ca,
    "--cert",
    as.cert,
    "--key",
    as.key,
    "-X",
    "POST",
    "-H",
    "content-type: application/json",
    "--data",
    JSON.stringify(body),
    `https://${address}:${port}/power`,
  ]);
  return stdout.trim();
}
