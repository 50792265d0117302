/**
 * A.8.13 Information backup: every stateful service (mail, file, db) is backed up on a
 * schedule, kept for a retention period, onto a host in another rack that no single feed loss
 * takes down together with the data it protects (asked of the power model: a dual-fed target
 * next to a dual-fed replica is fine, a target on the replica's only feed is not). sp-422 also
 * reads where the deployed containers really send their backups (lib/backups.ts): local copies
 * on a volume of their own, and every copy shipped to the store of the declared target's agent,
 * which keeps one for the service. The declaration alone proves nothing when a target ignores it.
 */
import { componentId } from "../../components/power";
import { powerView } from "../lib/power";
import { modelPolicy } from "../lib/policy";
import { deployedBackups } from "../lib/backups";
import { servicePath } from "../lib/resources";

export const backupConfigured = modelPolicy({
  name: "sp-421-backup-configured",
  description: "Every stateful service has a backup schedule and a retention of at least the stack's minimum.",
  controls: ["A.8.13"],
  severity: "high",
  remediationSteps: 'Add `backup: {schedule: "30 2 * * *", retentionDays: 14, targetHost: <host in another rack and feed>}` to the service.',
  configSchema: { properties: { minRetentionDays: { type: "integer", minimum: 1, default: 7 } } },
  validateModel: (model, report, args) => {
    const min = args.getConfig<{ minRetentionDays?: number }>().minRetentionDays ?? 7;
    for (const svc of model.plan.services.filter((s) => s.stateful)) {
      const where = servicePath(model.spec, svc.id);
      if (!svc.backup) report(`${where} keeps data (role ${svc.role}) but has no backup. Fix: add backup with schedule, retentionDays and targetHost.`);
      else if (svc.backup.retentionDays < min)
        report(`${where} keeps backups ${svc.backup.retentionDays} days, less than the stack's minimum of ${min}. Fix: raise backup.retentionDays.`);
    }
  },
});

export const backupTargetSeparated = modelPolicy({
  name: "sp-422-backup-target-separated",
  description:
    "Every stateful service's backups go to a declared host in a different rack than its replicas, which no single feed loss takes down together with a replica, and the deployed containers send them there: each replica ships its copies to the backup store of that host's agent (which keeps one for the service on a volume of its own), and keeps its local copies off its data volume.",
  controls: ["A.8.13"],
  severity: "high",
  remediationSteps:
    "Set backup.targetHost to a host whose rack and feeds differ from every replica's (`serverpark plan <stack>` lists them), and deploy the replicas with SP_BACKUP_DIR on a backup volume of their own and SP_BACKUP_STORE_URL naming that host's agent.",
  validateModel: async (model, report, args) => {
    const { plan, spec } = model;
    for (const svc of plan.services.filter((s) => s.stateful && s.backup)) {
      const where = servicePath(spec, svc.id);
      // What is deployed: where each replica's container really writes its backups.
      for (const deployed of await deployedBackups(model, svc, args.resources)) {
        const { replica, container, keeper, problem } = deployed;
        const target = svc.backup!.targetHost;
        const who = container ? `replica ${replica.id} (${container.who})` : `replica ${replica.id}`;
        if (problem && !container)
          report(`${where}: ${who} ${problem}. Fix: teach the pack the form the target deploys containers in (policies/lib/containers.ts).`);
        else if (problem) report(`${where}: ${who} ${problem}. Fix: ${SHIP_FIX}`);
        else if (keeper === replica.host) report(`${where}: ${who} keeps its backups on its own host ${keeper}. Fix: ${SHIP_FIX}`);
        else if (target !== undefined && keeper !== target)
          report(
            `${where}: ${who} sends its backups to host ${keeper}, but backup.targetHost is ${target}. Fix: ship them to the backup store of ${target}'s agent.`,
          );
      }
      const targetId = svc.backup!.targetHost;
      if (!targetId) {
        report(
          `${where} has a backup schedule but no backup.targetHost, so nothing says the copy lives apart from the data. Fix: set backup.targetHost to a host in another rack and feed.`,
        );
        continue;
      }
      const target = plan.hosts.find((h) => h.id === targetId);
      if (!target) {
        report(`${where}: backup.targetHost ${targetId} is not a host of this datacenter. Fix: name an existing host.`);
        continue;
      }
      const power = powerView(spec, plan);
      for (const id of svc.replicas) {
        const r = plan.replicas.find((x) => x.id === id)!;
        if (r.host === target.id) {
          report(`${where}: replica ${id} runs on its own backup target ${target.id}. Fix: choose another backup.targetHost.`);
          continue;
        }
        if (r.rack === target.rack)
          report(
            `${where}: backup target ${target.id} is in rack ${target.rack}, the same rack as replica ${id} (on ${r.host}). Fix: choose a host in another rack.`,
          );
        const both = spec.feeds.filter((f) => {
          const powered = power.stateAfter([componentId("feed", f.id)]).poweredHosts;
          return !powered.has(r.host) && !powered.has(target.id);
        });
        if (both.length > 0) {
          report(
            `${where}: losing feed ${both.map((f) => f.id).join(" or ")} takes down both replica ${id} (on ${r.host}, feed ${r.feeds.join("+")}) and its backup target ${target.id} (feed ${target.feeds.join("+")}). Fix: choose a target on another feed, or give one of them a second PSU.`,
          );
        }
      }
    }
  },
});

const SHIP_FIX =
  "mount a backup volume of its own at SP_BACKUP_DIR and ship every copy to the backup store of backup.targetHost's agent (SP_BACKUP_STORE_URL, a backup client certificate, the service in that agent's SP_BACKUP_CLIENTS).";

export const BACKUP_POLICIES = [backupConfigured, backupTargetSeparated];
