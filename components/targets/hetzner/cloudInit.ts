/**
 * A Hetzner server's user data: bootstrap only. It installs Docker (Debian's docker.io, with
 * the daemon settings every server shares) and the containers' networks with their egress
 * rules (egress.ts), creates root's private directory for the deployment, and authorizes the
 * deployment's SSH key (its public half). Nothing else: no
 * container, no address, no file of a replica and never a secret. User data is readable by any
 * process on the server that reaches the metadata service, and the provider replaces a server
 * whose user data changes, so everything per host or per replica (units, files, TLS keys,
 * passwords, the registry password, planned addresses, volumes) is delivered after boot over
 * SSH (deploy.ts). The same input always gives the same bytes; for a datacenter it is the same
 * document on every server.
 */
import { stringify } from "yaml";
import { EGRESS_SCRIPT, EGRESS_UNIT, EGRESS_UNIT_TEXT, egressScript } from "./egress";
import { ETC } from "./units";

export interface CloudInitInput {
  /** The deployment's SSH public key (`ssh-ed25519 …`), authorized for root. */
  readonly deployPublicKey: string;
}

/** Marks the deployment's key in root's authorized_keys. */
export const DEPLOY_KEY_COMMENT = "serverpark-deploy";

const DAEMON_JSON =
  JSON.stringify({ "live-restore": true, "log-driver": "json-file", "log-opts": { "max-file": "3", "max-size": "10m" }, "userland-proxy": false }, null, 2) +
  "\n";

export function renderCloudInit(input: CloudInitInput): string {
  const key = input.deployPublicKey.trim().split(/\s+/).slice(0, 2).join(" ");
  if (!/^ssh-(ed25519|rsa) [A-Za-z0-9+/=]+$/.test(key)) throw new Error(`the deploy key is not an OpenSSH public key: ${JSON.stringify(key.slice(0, 40))}`);
  const config = {
    package_update: true,
    packages: ["curl", "docker.io"],
    write_files: [
      { path: "/etc/docker/daemon.json", permissions: "0644", owner: "root:root", content: DAEMON_JSON },
      { path: EGRESS_SCRIPT, permissions: "0755", owner: "root:root", content: egressScript() },
      { path: `/etc/systemd/system/${EGRESS_UNIT}`, permissions: "0644", owner: "root:root", content: EGRESS_UNIT_TEXT },
      // Appended: the keys Hetzner installs for the operators (the server's sshKeys) stay.
      { path: "/root/.ssh/authorized_keys", permissions: "0600", owner: "root:root", append: true, content: `${key} ${DEPLOY_KEY_COMMENT}\n` },
    ],
    runcmd: [
      ["install", "-d", "-m", "0700", "-o", "root", "-g", "root", ETC, `${ETC}/containers`],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", EGRESS_UNIT],
    ],
  };
  return "#cloud-config\n" + stringify(config, { lineWidth: 0, blockQuote: "literal" });
}
