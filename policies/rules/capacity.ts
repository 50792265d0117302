/**
 * A.8.6 Capacity management: every container is bounded, and no host promises more than it
 * has (vCPUs up to the stack's overcommit ratio on virtualization hosts, memory and disk
 * never overcommitted).
 */
import { containerPolicy, modelPolicy } from "../lib/policy";

const CONTROLS = ["A.8.6"];

export const containerLimits = containerPolicy({
  name: "sp-401-container-limits",
  description: "Every container has a memory limit and a CPU limit.",
  controls: CONTROLS,
  severity: "medium",
  remediationSteps: "Set `memory` (MiB) and `cpuQuota` with `cpuPeriod` (or `cpus`) on the container; the Docker target derives them from the service's plan.",
  validateContainer: ({ memoryLimited, cpuLimited, who }, report) => {
    if (!memoryLimited) report(`${who} has no memory limit. Fix: set memory (MiB) from the service's plan.`);
    if (!cpuLimited) report(`${who} has no CPU limit. Fix: set cpuQuota and cpuPeriod (or cpus) from the service's plan.`);
  },
});

const round = (n: number) => Math.round(n * 100) / 100;

export const hostOvercommit = modelPolicy({
  name: "sp-402-host-overcommit",
  description: "No host is promised more vCPUs than cores × the stack's cpuOvercommit (cores on dedicated hosts), nor more memory or disk than it has.",
  controls: CONTROLS,
  severity: "high",
  remediationSteps:
    "Move replicas to other hosts, add a host, use a smaller plan, or (vCPUs on virtualization hosts only) raise serverpark:datacenter.cpuOvercommit.",
  validateModel: (model, report) => {
    const ratio = model.spec.cpuOvercommit;
    for (const h of model.plan.hosts) {
      const cores = h.capacity.cpus * (h.kind === "virtualization" ? ratio : 1);
      const where = `host ${h.id} (${h.kind}, rack ${h.rack})`;
      const replicas = h.replicas.join(", ") || "no replicas";
      if (h.allocated.cpus > cores + 1e-9) {
        report(
          `${where} is promised ${round(h.allocated.cpus)} vCPUs but may promise ${round(cores)} (${h.capacity.cpus} cores${h.kind === "virtualization" ? ` × ${ratio}` : ""}); it runs ${replicas}. Fix: move a replica or add a host.`,
        );
      }
      if (h.allocated.memoryGb > h.capacity.memoryGb + 1e-9) {
        report(
          `${where} is promised ${round(h.allocated.memoryGb)} GB of memory but has ${h.capacity.memoryGb} GB; it runs ${replicas}. Fix: move a replica or add a host.`,
        );
      }
      if (h.allocated.diskGb > h.capacity.diskGb + 1e-9) {
        report(
          `${where} is promised ${round(h.allocated.diskGb)} GB of disk but has ${h.capacity.diskGb} GB; it runs ${replicas}. Fix: move a replica or add a host.`,
        );
      }
    }
  },
});

export const CAPACITY_POLICIES = [containerLimits, hostOvercommit];
