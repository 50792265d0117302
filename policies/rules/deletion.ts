/**
 * A.8.10 Information deletion: backups are deleted when their retention ends, by the replica
 * that makes them. The roles' backup runtime (images/runtime/backups.ts) deletes backups older
 * than `backup.retentionDays` from the runtime config it is given; this policy checks that
 * every stateful replica is actually given that retention — the one the stack declares, no
 * longer than the stack's maximum — and a backup folder, on the containers that run.
 */
import { stackPolicy } from "../lib/policy";
import { datacenterModels, describeResource, serverparkLabels, TYPES } from "../lib/resources";
import { runtimeConfigOf } from "../lib/runtimeConfig";

export const retentionDelivered = stackPolicy({
  name: "sp-423-backup-retention-delivered",
  description:
    "Every stateful replica's container is given its service's declared backup retention (at most the stack's maximum) and a backup folder, so its backups are deleted when the retention ends.",
  controls: ["A.8.10"],
  severity: "medium",
  remediationSteps:
    "Declare backup.retentionDays on the service (at most the stack's maxRetentionDays) and deploy the replica through the Serverpark target, which writes it into the replica's runtime config and sets SP_BACKUP_DIR.",
  configSchema: { properties: { maxRetentionDays: { type: "integer", minimum: 1, default: 400 } } },
  validateStack: (args, reportViolation) => {
    let reported = 0;
    const report: typeof reportViolation = (message, urn) => {
      reported++;
      reportViolation(message, urn);
    };
    const models = datacenterModels(args.resources);
    if (models.length === 0) return args.notApplicable("no serverpark Datacenter in this stack");
    const max = args.getConfig<{ maxRetentionDays?: number }>().maxRetentionDays ?? 400;
    const containers = args.resources.filter((r) => r.type === TYPES.container);
    let checked = 0;
    for (const { model } of models) {
      for (const svc of model.plan.services.filter((s) => s.stateful)) {
        const declared = svc.backup?.retentionDays;
        if (declared !== undefined && declared > max)
          report(
            `service ${svc.id} keeps backups ${declared} days, longer than the stack's maximum of ${max}. Fix: lower backup.retentionDays.`,
            models[0]!.urn,
          );
        for (const replica of svc.replicas) {
          const c = containers.find((r) => serverparkLabels(r.props).replica === replica && serverparkLabels(r.props).datacenter === model.spec.name);
          if (!c) continue;
          checked++;
          const who = describeResource(c.type, c.name, c.props);
          const config = runtimeConfigOf(c.props);
          if (!config) continue;
          const given = config.backup?.retentionDays;
          if (given !== declared)
            report(
              `${who} is given backup retention ${given ?? "none"} but service ${svc.id} declares ${declared ?? "none"}: its old backups ${given === undefined ? "are never deleted" : "are deleted on another schedule than declared"}. Fix: deploy it through the Serverpark target.`,
              c.urn,
            );
          const env = ((c.props.envs ?? []) as unknown[]).filter((e): e is string => typeof e === "string");
          // A service without a backup has nothing to delete (sp-421 asks for the backup).
          if (declared !== undefined && !env.some((e) => e.startsWith("SP_BACKUP_DIR=")))
            report(`${who} has no SP_BACKUP_DIR: it keeps no backups to delete. Fix: deploy it through the Serverpark target.`, c.urn);
        }
      }
    }
    if (checked === 0 && reported === 0)
      args.notApplicable("no stateful replica runs as a Docker container (on Hetzner the runtime config travels outside the resource inputs)");
  },
});

export const DELETION_POLICIES = [retentionDelivered];
