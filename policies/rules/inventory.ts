/**
 * A.5.9 Inventory of information and other associated assets: the inventory is the stack's
 * spec and plan, and what runs must match it. Every declared host has its host agent, every
 * planned replica a container, and every replica container belongs to a planned replica on
 * the host the plan puts it on — nothing runs that the inventory does not list.
 */
import { stackPolicy } from "../lib/policy";
import { datacenterModels, describeResource, serverparkLabels, TYPES } from "../lib/resources";
import { fromDockerContainer } from "../lib/containers";

export const inventoryMatchesDeployment = stackPolicy({
  name: "sp-413-inventory-matches-deployment",
  description:
    "Every declared host runs its host agent and every planned replica a container on its planned host; no replica container runs that the plan does not list.",
  controls: ["A.5.9"],
  severity: "medium",
  remediationSteps:
    "Deploy through the Serverpark targets from the stack's spec (they create exactly the plan's agents and replicas); remove containers created by hand.",
  validateStack: (args, report) => {
    const models = datacenterModels(args.resources);
    if (models.length === 0) return args.notApplicable("no serverpark Datacenter in this stack");
    const containers = args.resources.filter((r) => r.type === TYPES.container);
    if (containers.length === 0) return args.notApplicable("no Docker containers (on Hetzner, cloud-init starts them inside each server)");
    for (const { urn, model } of models) {
      const mine = containers.filter((c) => serverparkLabels(c.props).datacenter === model.spec.name);
      const agents = new Set(mine.filter((c) => serverparkLabels(c.props).role === "host-agent").map((c) => serverparkLabels(c.props).host));
      for (const h of model.plan.hosts) if (!agents.has(h.id)) report(`host ${h.id} of the inventory runs no host agent. Fix: deploy the stack.`, urn);
      const byReplica = new Map(mine.flatMap((c) => (serverparkLabels(c.props).replica ? [[serverparkLabels(c.props).replica!, c] as const] : [])));
      for (const r of model.plan.replicas)
        if (!byReplica.has(r.id)) report(`replica ${r.id} of service ${r.service} runs no container. Fix: deploy the stack.`, urn);
      for (const [id, c] of byReplica) {
        const planned = model.plan.replicas.find((r) => r.id === id);
        const who = describeResource(c.type, c.name, c.props);
        if (!planned) {
          report(`${who} runs replica ${id}, which the plan does not list. Fix: remove it or declare its service.`, c.urn);
          continue;
        }
        const host = fromDockerContainer(c.type, c.name, c.props).env.SP_HOST;
        if (host !== undefined && host !== planned.host)
          report(`${who} runs replica ${id} as host ${host}, but the plan puts it on ${planned.host}. Fix: deploy the stack again.`, c.urn);
      }
    }
  },
});

export const INVENTORY_POLICIES = [inventoryMatchesDeployment];
