/**
 * A.8.15 Logging and A.8.16 Monitoring activities: every container's logs are kept and
 * rotated, every container reports its health, and the NOC can probe every service replica.
 */
import { containerPolicy, modelPolicy } from "../lib/policy";
import { servicePath } from "../lib/resources";

/** Drivers that keep logs on the host and therefore need rotation options. */
const LOCAL_DRIVERS = new Set(["json-file", "local"]);
/** Drivers that ship logs off the host (rotation is the receiver's job). */
const SHIPPING_DRIVERS = new Set(["syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "gcplogs", "logentries"]);

export const logRotation = containerPolicy({
  name: "sp-431-log-rotation",
  description: "Every container's logs are kept and rotated (json-file/local with max-size and max-file, or shipped to a log receiver).",
  controls: ["A.8.15"],
  severity: "medium",
  remediationSteps: 'Set logDriver "json-file" with logOpts {"max-size": "10m", "max-file": "3"} (the Docker target does this for every container).',
  validateContainer: ({ logDriver: driver, logOpts: opts, who }, report) => {
    if (driver === "none") return report(`${who} discards its logs (logDriver "none"). Fix: use json-file with max-size and max-file.`);
    if (driver && SHIPPING_DRIVERS.has(driver)) return;
    if (driver === undefined)
      return report(
        `${who} sets no logDriver, so the engine's default applies (json-file without rotation unless the daemon says otherwise). Fix: logDriver "json-file", logOpts max-size and max-file.`,
      );
    if (!LOCAL_DRIVERS.has(driver))
      return report(`${who} uses log driver "${driver}", which this policy does not know to keep logs. Fix: use json-file or a known shipping driver.`);
    const missing = ["max-size", "max-file"].filter((k) => !opts[k]);
    if (driver === "json-file" && missing.length > 0)
      report(
        `${who} logs to json-file without ${missing.join(" and ")}: the log grows until the disk is full. Fix: set logOpts ${missing.map((m) => `"${m}"`).join(", ")}.`,
      );
  },
});

export const healthChecks = containerPolicy({
  name: "sp-432-health-checks",
  description: "Every container has a health check.",
  controls: ["A.8.16"],
  severity: "medium",
  remediationSteps:
    'Set healthcheck {tests: ["CMD", "node", "/app/healthcheck.mjs"], interval, timeout, retries} (every Serverpark image ships that probe of its /healthz).',
  validateContainer: ({ healthTests, who }, report) => {
    if (healthTests.length === 0) {
      report(
        `${who} has no health check, so the engine and the NOC cannot tell a hung server from a healthy one. Fix: set healthcheck.tests to the image's probe.`,
      );
    }
  },
});

export const nocProbesEverything = modelPolicy({
  name: "sp-433-noc-probes-every-service",
  description: "A NOC runs on the management network and every service replica has a management address it can probe.",
  controls: ["A.8.16"],
  severity: "medium",
  remediationSteps: "Declare a service with role noc on the management network, and leave `management` at its default (true) on every service.",
  validateModel: (model, report) => {
    const { spec, plan } = model;
    const mgmt = new Set(plan.networks.filter((n) => n.exposure === "management").map((n) => n.id));
    const nocs = plan.services.filter((s) => s.role === "noc" && s.replicas.length > 0);
    const nocNets = new Set(nocs.flatMap((s) => s.networks.filter((n) => mgmt.has(n))));
    if (mgmt.size === 0)
      report(`datacenter ${spec.name} has no management network, so nothing can probe its servers. Fix: add a network with exposure "management".`);
    if (nocs.length === 0)
      report(`datacenter ${spec.name} has no NOC service, so no replica is probed. Fix: add a service with role "noc" on the management network.`);
    else if (nocNets.size === 0)
      report(
        `the NOC (${nocs.map((s) => s.id).join(", ")}) is on no management network, so it cannot reach management ports. Fix: attach it to the management network.`,
      );
    if (nocNets.size === 0) return;
    for (const svc of plan.services) {
      const unprobed = svc.replicas.filter((id) => {
        const r = plan.replicas.find((x) => x.id === id);
        return !r?.managementAddress || !Object.keys(r.addresses).some((n) => nocNets.has(n));
      });
      if (unprobed.length > 0) {
        report(
          `${servicePath(spec, svc.id)}: replica${unprobed.length > 1 ? "s" : ""} ${unprobed.join(", ")} ha${unprobed.length > 1 ? "ve" : "s"} no management address on the NOC's network, so the NOC cannot probe ${unprobed.length > 1 ? "them" : "it"}. Fix: remove \`management: false\` from the service.`,
        );
      }
    }
  },
});

export const OBSERVABILITY_POLICIES = [logRotation, healthChecks, nocProbesEverything];
