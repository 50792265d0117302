/**
 * TEST TOOL. Answers "can this container get out of its networks?" without sending a
 * packet: from its routing table and, where needed, the engine's isolation rules.
 *
 * Why both: Docker >= 25 gives containers on `internal` networks no default route, so
 * the routing table alone says "no way out". Docker 20.10 (Debian 12's docker.io)
 * still adds a default route via the internal network's gateway and blocks egress
 * with DOCKER-ISOLATION-STAGE-1 DROP rules instead; there we read those rules.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { DockerHarness } from "./docker-harness";

const run = promisify(execFile);

export interface Egress {
  /** True when nothing outside the container's own networks is reachable. */
  readonly blocked: boolean;
  /** How that was decided, for test failure messages. */
  readonly reason: string;
}

/** Gateway column of /proc/net/route (little-endian hex) as dotted quad. */
function hexToIp(hex: string): string {
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(".");
}

export async function egress(harness: DockerHarness, container: string): Promise<Egress> {
  const { stdout, exitCode } = await harness.exec(container, ["cat", "/proc/net/route"]);
  if (exitCode !== 0) throw new Error(`cannot read the routing table of ${container}`);
  const defaults = stdout
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[1] === "00000000");
  if (defaults.length === 0) return { blocked: true, reason: "no default route" };

  const gateway = hexToIp(defaults[0]![2]!);
  const info = await harness.inspect(container, "container");
  const networks = (info.NetworkSettings as { Networks: Record<string, { Gateway: string; NetworkID: string }> }).Networks;
  const via = Object.entries(networks).find(([, n]) => n.Gateway === gateway);
  if (!via) return { blocked: false, reason: `default route via ${gateway}, not a gateway of its networks` };
  const [name, endpoint] = via;
  const network = await harness.inspect(endpoint.NetworkID, "network");
  if (network.Internal !== true) return { blocked: false, reason: `default route via ${gateway} on non-internal network ${name}` };

  const options = (network.Options ?? {}) as Record<string, string>;
  const bridge = options["com.docker.network.bridge.name"] ?? `br-${String(network.Id).slice(0, 12)}`;
  const subnet = (network.IPAM as { Config: { Subnet: string }[] }).Config[0]?.Subnet;
  const { stdout: rules } = await run("iptables", ["-S", "DOCKER-ISOLATION-STAGE-1"]);
  const dropOut = rules.includes(`-A DOCKER-ISOLATION-STAGE-1 ! -d ${subnet} -i ${bridge} -j DROP`);
  return dropOut
    ? { blocked: true, reason: `default route via internal network ${name} (${gateway}); the engine drops forwarding out of ${bridge}` }
    : { blocked: false, reason: `default route via internal network ${name}, but no DROP rule for ${bridge} in DOCKER-ISOLATION-STAGE-1` };
}
