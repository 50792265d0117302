/**
 * How the NOC reads its view from the replica config (contracts/views/noc.ts): probe targets,
 * unreachable replicas, the name to ask each proxy for, each host agent's address and the diagram model, all resolved by
 * the program from the plan. A NOC started without a config file (a bare `docker run`) has
 * nothing to probe and draws an empty datacenter.
 */
import type { NocView } from "../../../contracts/views/noc";
import type { ReplicaConfig } from "../../runtime/replica";

export function nocViewOf(config: ReplicaConfig<unknown>): NocView {
  return (
    config.noc ?? {
      targets: [],
      unreachable: [],
      proxyHosts: {},
      hostAgents: {},
      diagram: { datacenter: config.datacenter, domain: config.domain, hosts: [], replicas: [], services: [] },
    }
  );
}
