/**
 * A.8.2 Privileged access rights: no container gets more power over its host than its server
 * needs. Each check is its own policy so a violation names exactly one fix.
 */
import { containerPolicy } from "../lib/policy";

const CONTROLS = ["A.8.2"];

export const noPrivilegedContainer = containerPolicy({
  name: "sp-201-no-privileged-container",
  description: "Containers never run privileged.",
  controls: CONTROLS,
  severity: "critical",
  remediationSteps: "Remove `privileged: true` from the container; grant the one capability the server needs instead (and justify it, see sp-204).",
  validateContainer: ({ privileged, who }, report) => {
    if (privileged) report(`${who} runs privileged (full access to the host's devices and kernel). Fix: remove \`privileged\`.`);
  },
});

const SOCKETS = /(^|\/)(docker|containerd|podman|crio)\.sock$|^\/var\/run\/?$|^\/run\/?$/;

export const noDockerSocket = containerPolicy({
  name: "sp-202-no-docker-socket",
  description: "No container mounts the Docker (or any container runtime) socket.",
  controls: CONTROLS,
  severity: "critical",
  remediationSteps: "Remove the bind mount of /var/run/docker.sock; whoever holds that socket is root on the host. Give the server a narrow API instead.",
  validateContainer: ({ hostMounts, who }, report) => {
    for (const source of hostMounts.filter((s) => SOCKETS.test(s.replace(/\/+$/, "") || s))) {
      report(`${who} mounts ${source} from the host (root on the host for anyone in the container). Fix: remove that mount.`);
    }
  },
});

export const noHostNamespaces = containerPolicy({
  name: "sp-203-no-host-namespaces",
  description: "Containers use their own network, PID, IPC and user namespaces, never the host's.",
  controls: CONTROLS,
  severity: "high",
  remediationSteps: "Drop `networkMode: host` (attach the container to the datacenter's networks instead), and `pidMode`/`ipcMode`/`usernsMode: host`.",
  validateContainer: ({ namespaces, who }, report) => {
    for (const key of ["networkMode", "pidMode", "ipcMode", "usernsMode"] as const) {
      if (namespaces[key] === "host") report(`${who} shares the host's namespace (${key}: host). Fix: remove ${key}.`);
    }
  },
});

export const capabilitiesJustified = containerPolicy({
  name: "sp-204-capabilities-justified",
  description: "Containers drop all capabilities and add back only ones justified in the stack's policy config.",
  controls: CONTROLS,
  severity: "high",
  remediationSteps:
    'Drop ALL capabilities; if a server really needs one, add it and record why in the policy config: {"sp-204-capabilities-justified": {"justified": {"NET_ADMIN": "why"}}}.',
  configSchema: {
    properties: {
      justified: { type: "object", additionalProperties: { type: "string", minLength: 10 }, description: "capability → why it is needed" },
    },
  },
  validateContainer: ({ capAdd, capDrop, who }, report, args) => {
    const justified = args.getConfig<{ justified?: Record<string, string> }>().justified ?? {};
    const norm = (c: string) => c.toUpperCase().replace(/^CAP_/, "");
    if (!capDrop.map(norm).includes("ALL")) {
      report(`${who} keeps Docker's default capabilities. Fix: set capabilities.drops to ["ALL"].`);
    }
    for (const cap of capAdd.map(norm)) {
      if (!justified[cap])
        report(`${who} adds capability ${cap} without a justification. Fix: remove it, or justify it in the policy config (sp-204 justified.${cap}).`);
    }
  },
});

export const nonRootUser = containerPolicy({
  name: "sp-205-non-root-user",
  description: "Containers run as a non-root user.",
  controls: CONTROLS,
  severity: "high",
  remediationSteps: 'Set `user: "1000:1000"` (the images create their data folders for uid 1000).',
  validateContainer: ({ user: declared, who }, report) => {
    const user = declared?.trim() ?? "";
    const name = user.split(":")[0];
    if (user === "") report(`${who} sets no user, so it runs as the image's user (root unless the image says otherwise). Fix: set user "1000:1000".`);
    else if (name === "0" || name === "root") report(`${who} runs as root (user "${user}"). Fix: set user "1000:1000".`);
  },
});

export const PRIVILEGED_POLICIES = [noPrivilegedContainer, noDockerSocket, noHostNamespaces, capabilitiesJustified, nonRootUser];
