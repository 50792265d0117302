/**
 * A.5.15 Access control, A.8.2 Privileged access rights, A.8.5 Secure authentication: the
 * management plane (every replica's and host agent's management port: backups, restores,
 * power, reloads) admits only the datacenter's management callers, checked on what each
 * container is actually given — its environment and the files placed in it — on both targets.
 */
import { MANAGEMENT_CALLERS } from "../../contracts/management";
import { MANAGEMENT_CLIENT_TLS_PATHS, TLS_PATHS } from "../../contracts/paths";
import { containerPolicy } from "../lib/policy";

const isLoopback = (address: string) => address === "::1" || address.startsWith("127.");

export const managementPlaneAuthenticated = containerPolicy({
  name: "sp-206-management-plane-authenticated",
  description:
    "Every management port on a network speaks mutual TLS with the container's own certificate and the datacenter CA; none is plain HTTP; only management callers hold a management client certificate.",
  controls: ["A.5.15", "A.8.2", "A.8.5"],
  severity: "critical",
  remediationSteps:
    "Give the container its certificate, key and the datacenter CA (TLS_PATHS) beside SP_MGMT_ADDRESS, remove SP_MGMT_INSECURE, and issue management client certificates only to the callers in contracts/management.ts.",
  validateContainer: ({ env, files, role, who }, report) => {
    if (env.SP_MGMT_INSECURE === "true") {
      report(`${who} sets SP_MGMT_INSECURE=true: its management port answers anyone in plain HTTP. Fix: remove it and give the container its TLS files.`);
    }
    const address = env.SP_MGMT_ADDRESS;
    if (address && !isLoopback(address)) {
      const wanted = [env.SP_TLS_CERT || TLS_PATHS.cert, env.SP_TLS_KEY || TLS_PATHS.key, env.SP_TLS_CA || TLS_PATHS.ca];
      const missing = wanted.filter((path) => !files.includes(path));
      if (missing.length > 0) {
        report(
          `${who} serves its management port on ${address} without ${missing.join(", ")}: it cannot authenticate its callers (and will not start). Fix: place the files.`,
        );
      }
    }
    const holdsClient = files.includes(MANAGEMENT_CLIENT_TLS_PATHS.cert) || files.includes(MANAGEMENT_CLIENT_TLS_PATHS.key);
    if (holdsClient && !(MANAGEMENT_CALLERS as readonly string[]).includes(role)) {
      report(
        `${who} (role ${role}) holds a management client certificate, but only ${MANAGEMENT_CALLERS.join(" and ")} may call management ports. Fix: remove it.`,
      );
    }
  },
});

export const MANAGEMENT_POLICIES = [managementPlaneAuthenticated];
