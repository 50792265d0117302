/**
 * A.7.8 Equipment siting and protection, from the physical facts the spec carries: the
 * replicas of a service that has more than one are placed in more than one rack, so one rack
 * (its fire, flood, cooling or top-of-rack switch) never holds them all. Judged on the
 * placement the containers are started with (each replica's runtime config names its rack),
 * and on the plan where the config is not readable.
 */
import { modelPolicy } from "../lib/policy";
import { serverparkLabels, servicePath, TYPES } from "../lib/resources";
import { runtimeConfigOf } from "../lib/runtimeConfig";

export const replicasAcrossRacks = modelPolicy({
  name: "sp-112-replicas-across-racks",
  description: "Every service with more than one replica has replicas in more than one rack (when the datacenter has more than one).",
  controls: ["A.7.8"],
  severity: "high",
  remediationSteps:
    "Give another rack a host with room for the service's plan, so the planner places a replica there (`serverpark plan <stack>` shows where replicas land).",
  validateModel: (model, report, args) => {
    if (new Set(model.plan.hosts.map((h) => h.rack)).size < 2) return;
    const racks = new Map<string, string>();
    for (const r of args.resources.filter((x) => x.type === TYPES.container)) {
      const replica = serverparkLabels(r.props).replica;
      const rack = runtimeConfigOf(r.props)?.rack;
      if (replica && rack) racks.set(replica, rack);
    }
    for (const svc of model.plan.services.filter((s) => s.replicas.length > 1)) {
      const where = svc.replicas.map((id) => racks.get(id) ?? model.plan.replicas.find((x) => x.id === id)?.rack);
      if (new Set(where).size < 2)
        report(
          `${servicePath(model.spec, svc.id)}: all ${svc.replicas.length} replicas (${svc.replicas.join(", ")}) run in rack ${where[0]}: losing that rack loses the service. Fix: give another rack a host with room for it.`,
        );
    }
  },
});

export const SITING_POLICIES = [replicasAcrossRacks];
