/**
 * Real host agents (images/host-agent) in this process, each on its own loopback address with
 * mutual TLS from a throwaway CA (test/support/managementPki.ts), for the NOC's power reads.
 * Each agent also binds 127.0.0.1 for its container-local plain listener, so each gets its
 * own port.
 */
import { execFile } from "node:child_process";
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

export async function startAgent(spec: AgentSpec): Promise<HostAgent> {
  const env = {
    SP_DATACENTER: "fra1",
    SP_HOST_ID: spec.host,
    SP_RACK: spec.rack,
    SP_HOST_KIND: "dedicated",
    SP_PSUS: JSON.stringify(spec.psus),
  };
  const config = { ...parseConfig(hostAgentEnv, env), SP_MGMT_PORT: 0 };
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
