/**
 * A.7.11 Supporting utilities and A.8.14 Redundancy of information processing facilities,
 * decided from the datacenter model the `Datacenter` component exposes, with the power model
 * answering which hosts keep power under which failure — not by counting replicas.
 */
import { arbitersOf, componentId, serviceStates, type ServiceState } from "../../components/power";
import { replicasNeeded, survivesReplicaLoss } from "../../components/spec/redundancy";
import type { DatacenterPlan, PlannedReplica, PlannedService } from "../../components/plan/types";
import { modelPolicy } from "../lib/policy";
import { powerView } from "../lib/power";
import { servicePath } from "../lib/resources";

const round = (n: number) => Math.round(n * 100) / 100;

/** Why a service is down in a power state: what still runs against what it needs. */
function shortfall(plan: DatacenterPlan, state: ServiceState): string {
  const svc = plan.services.find((s) => s.id === state.service)!;
  const running =
    state.running.length === 0 ? "has no replica on a host that keeps power" : `keeps ${state.running.length} of ${state.replicas} replicas running`;
  const why = survivesReplicaLoss(svc)
    ? `needs ${state.needed}`
    : `needs all ${state.needed}: ${svc.role} does not replicate its data, so each replica holds data no other has`;
  return state.needed === 1 && state.running.length === 0 ? running : `${running} (${why})`;
}

function hostLabel(plan: DatacenterPlan, hostId: string): string {
  const h = plan.hosts.find((x) => x.id === hostId);
  return h ? `host ${h.id} (rack ${h.rack}, PSUs ${h.psus.map((p) => `${p.pdu}→feed ${p.feed}`).join(", ")})` : `host ${hostId}`;
}

export const powerPathSurvivesFeedLoss = modelPolicy({
  name: "sp-101-power-path-survives-feed-loss",
  description:
    "Every host keeps power when any one feed is lost, or every service it carries keeps the replicas it needs running on hosts that keep power (a replica of a stateful service that does not replicate is no spare).",
  controls: ["A.7.11"],
  severity: "high",
  remediationSteps: "Give the host a second power supply on a PDU of another feed, or add a replica of each service it carries on a host fed by another feed.",
  validateModel: (model, report) => {
    const { spec, plan } = model;
    const power = powerView(spec, plan);
    const replicas = new Map(plan.replicas.map((r) => [r.id, r]));
    for (const feed of spec.feeds) {
      const state = power.stateAfter([componentId("feed", feed.id)]);
      const tripped = state.tripped.length > 0 ? ` (overload trips ${state.tripped.join(", ")})` : "";
      // Up or down by the rule the simulator and sp-111 use (components/spec/redundancy.ts).
      const down = new Map(serviceStates(plan, state.poweredHosts).flatMap((s) => (s.up ? [] : [[s.service, s] as const])));
      for (const host of plan.hosts.filter((h) => !state.poweredHosts.has(h.id))) {
        const stranded = [...new Set(host.replicas.map((r) => replicas.get(r)!.service))].flatMap((id) => down.get(id) ?? []);
        if (stranded.length === 0) continue;
        report(
          `${hostLabel(plan, host.id)} loses power when feed ${feed.id} is lost${tripped}, and ${stranded.map((s) => `service ${s.service} ${shortfall(plan, s)}`).join(", ")}. ` +
            `Fix: add a PSU on a PDU of another feed to ${host.id}, or add a replica of ${stranded.map((s) => s.service).join(", ")} on a host fed by another feed.`,
        );
      }
    }
  },
});

export const upsBridgesGeneratorStart = modelPolicy({
  name: "sp-102-ups-bridges-generator-start",
  description:
    "Every feed that carries load has a UPS and a generator, and the UPS runtime at the feed's worst load covers the generator's start delay with margin.",
  controls: ["A.7.11"],
  severity: "high",
  remediationSteps: "Add a UPS and a generator to the feed, a bigger battery (runtimeMinutes), or a generator that starts faster (startDelaySeconds).",
  configSchema: {
    properties: {
      marginFactor: { type: "number", minimum: 1, default: 2, description: "UPS runtime must be at least this many times the generator start delay" },
    },
  },
  validateModel: (model, report, args) => {
    const margin = args.getConfig<{ marginFactor?: number }>().marginFactor ?? 2;
    const power = powerView(model.spec, model.plan);
    model.spec.feeds.forEach((feed, i) => {
      const load = power.worstFeedLoadKw(feed.id);
      if (load <= 0) return;
      const where = `serverpark:datacenter.feeds[${i}] (feed ${feed.id}, worst load ${round(load)} kW)`;
      if (!feed.ups) report(`${where} has no UPS: its hosts lose power the instant utility power fails. Fix: add feeds[${i}].ups.`);
      if (!feed.generator)
        report(`${where} has no generator: after utility loss nothing carries the load once the UPS is empty. Fix: add feeds[${i}].generator.`);
      if (!feed.ups || !feed.generator) return;
      const runtime = power.upsRuntimeSeconds(feed, load)!;
      const needed = feed.generator.startDelaySeconds * margin;
      if (runtime < needed) {
        report(
          `${where}: the UPS lasts ${round(runtime)} s at that load but must bridge ${feed.generator.startDelaySeconds} s of generator start × margin ${margin} = ${round(needed)} s. Fix: a larger UPS battery or a faster-starting generator.`,
        );
      }
    });
  },
});

export const powerCapacityCoversLoad = modelPolicy({
  name: "sp-103-power-capacity-covers-load",
  description: "Each feed's generator and UPS are rated for the feed's worst load (its own, or with another feed lost).",
  controls: ["A.7.11"],
  severity: "high",
  remediationSteps: "Use a UPS and a generator rated at least the worst load the report names, or move hosts to another feed.",
  validateModel: (model, report) => {
    const power = powerView(model.spec, model.plan);
    model.spec.feeds.forEach((feed, i) => {
      const load = power.worstFeedLoadKw(feed.id);
      const where = `serverpark:datacenter.feeds[${i}] (feed ${feed.id})`;
      for (const [part, rated] of [
        ["ups", feed.ups?.capacityKw],
        ["generator", feed.generator?.capacityKw],
      ] as const) {
        if (rated !== undefined && rated < load) {
          report(
            `${where}: the ${part} is rated ${rated} kW but the feed carries up to ${round(load)} kW when another feed is lost. Fix: raise feeds[${i}].${part}.capacityKw to at least ${Math.ceil(load)}.`,
          );
        }
      }
    });
  },
});

export const redundantServicesSurvive = modelPolicy({
  name: "sp-111-redundant-service-survives-single-failure",
  description:
    "Every service declared redundant keeps the replicas it needs running after the loss of any single host, rack or power feed (minReplicas; every replica of a stateful service that does not replicate).",
  controls: ["A.8.14"],
  severity: "critical",
  remediationSteps: "Add replicas, or spread them: hosts in different racks, fed by different feeds (or give their hosts a second PSU on another feed).",
  validateModel: (model, report) => {
    const { spec, plan } = model;
    const redundant = plan.services.filter((s) => s.redundant);
    if (redundant.length === 0) return;
    const power = powerView(spec, plan);
    const verdicts = new Map(power.verdicts(["host", "rack", "feed"]).map((v) => [v.service, v]));
    for (const svc of redundant) {
      const downBy = verdicts.get(svc.id)?.downBy ?? [];
      if (downBy.length === 0) continue;
      const placed = svc.replicas.map((id) => plan.replicas.find((x) => x.id === id)!);
      const arbiters = arbitersOf(plan, svc);
      const placement = placed.map((r) => `${r.id} on ${r.host} (rack ${r.rack}, feed ${r.feeds.join("+")})`);
      const needed = replicasNeeded(svc);
      report(
        `${servicePath(spec, svc.id)} is declared redundant but drops below ${needed} running replica${needed > 1 ? "s" : ""} when ${downBy.join(" or ")} fails` +
          `${sharedCause(svc, placed, arbiters)}; replicas: ${placement.join(", ")}. ` +
          `Fix: add a replica or place replicas on hosts in other racks and on other feeds.`,
      );
    }
  },
});

/** What the replicas have in common that one failure takes them all down (empty when nothing obvious). */
function sharedCause(svc: PlannedService, placed: readonly PlannedReplica[], arbiters: readonly PlannedReplica[]): string {
  const why: string[] = [];
  for (const a of arbiters) why.push(`a lost replica fails over only while ${a.id} runs, on ${a.host} (rack ${a.rack}, feed ${a.feeds.join("+")})`);
  if (!survivesReplicaLoss(svc)) why.push(`${svc.role} does not replicate its data, so losing any replica loses data`);
  const racks = new Set(placed.map((r) => r.rack));
  if (placed.length > 1 && racks.size === 1) why.push(`all ${placed.length} replicas are in rack ${[...racks][0]}`);
  const feeds = new Set(placed.flatMap((r) => r.feeds));
  if (placed.length > 1 && feeds.size === 1) why.push(`every replica's host is fed by feed ${[...feeds][0]} alone`);
  return why.length > 0 ? ` (${why.join("; ")})` : "";
}

export const POWER_POLICIES = [powerPathSurvivesFeedLoss, upsBridgesGeneratorStart, powerCapacityCoversLoad, redundantServicesSurvive];
