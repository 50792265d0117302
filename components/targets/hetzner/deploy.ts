/**
 * Delivering a server's containers after boot, over SSH, with `@pulumi/command`: the
 * connection authenticates with the deployment's own key (a `tls.PrivateKey` the program
 * generates, a Pulumi secret; its public half is the only thing user data carries for it).
 *
 * Per server:
 *  - `ready`: waits for cloud-init to finish (Docker and the egress rules running, /etc/serverpark created);
 *  - `registry`: `docker login` with the registry password on stdin (a secret; re-run when it changes);
 *  - `network`: the network script and unit (planned alias addresses), copied and (re)started.
 * Per container (the host agent and each replica):
 *  - `container`: its directory (0700) and, for a replica with a volume, the fstab line; its
 *    delete stops and removes the container (only on the server it was created on);
 *  - one `CopyToRemote` per file: the unit, and every file of the launch description whatever
 *    its content (runtime config, TLS material, role files), a secret stays a secret;
 *  - `start`: removes files the launch no longer lists, sets owner and modes, (re)starts the unit and waits until the container is
 *    healthy (its own health check; at most 10 minutes). Its `triggers` are a digest of
 *    the unit and every file, so a changed config, image or secret restarts exactly that
 *    container, in place; the server is untouched.
 * Every resource is also triggered by the server's id: a replaced server gets everything again
 * (even when it keeps its address through a primary IP).
 */
import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import type * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import type { LaunchFile } from "../../model/launch";
import type { TargetScope } from "../target";
import { EGRESS_UNIT } from "./egress";
import {
  containerDir,
  ETC,
  fileSlug,
  NETWORK_SCRIPT,
  NETWORK_UNIT,
  NETWORK_UNIT_PATH,
  networkScript,
  serverFilePath,
  unitName,
  unitPath,
  VOLUMES,
  volumeFstabLine,
  type ServerNetwork,
} from "./units";

/** How long the deployment keeps trying to reach a booting server: 60 × 10 s. */
const DIAL = { dialErrorLimit: 60, perDialTimeout: 10 } as const;
const METADATA_ID = "http://169.254.169.254/hetzner/v1/metadata/instance-id";

/** A POSIX shell word. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Waits (at most 10 minutes: the first start pulls the image) until the container's own health
 * check passes, so `pulumi up` fails on a container that does not come up, naming it.
 */
export function healthy(container: string, tries = 120): string {
  const status = `docker inspect --format '{{.State.Health.Status}}' ${container} 2>/dev/null`;
  return `{ i=0; until [ "$(${status})" = healthy ]; do i=$((i + 1)); [ "$i" -le ${tries} ] || { echo "serverpark: ${container} is not healthy after ${tries * 5} s ($(${status}))" >&2; exit 1; }; sleep 5; done; }`;
}

/** Removes every file directly in `dir` but `keep` (file slugs: no shell or glob characters). */
export function removeOthers(dir: string, keep: readonly string[]): string {
  return `find ${dir} -maxdepth 1 -type f${keep.map((name) => ` ! -name ${name}`).join("")} -delete`;
}

function digest(parts: readonly string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(`${Buffer.byteLength(p)}:`).update(p);
  return h.digest("hex");
}

export interface ServerDeploymentArgs {
  readonly scope: TargetScope;
  readonly server: hcloud.Server;
  /** The deployment's private key (OpenSSH format), a secret. */
  readonly privateKey: pulumi.Output<string>;
  readonly networks: readonly ServerNetwork[];
  readonly registry: { readonly server: string; readonly username: string; readonly password: pulumi.Output<string> };
}

export interface ContainerDeploymentArgs {
  /** Where its resources go: the replica's service, or the host for the agent. */
  readonly scope: TargetScope;
  /** Resource name prefix under `scope`. */
  readonly name: string;
  /** Container id on the server (replica id or `host-agent`). */
  readonly id: string;
  /** The Docker container's name (units.ts `containerName`). */
  readonly container: string;
  /** The rendered unit (units.ts). */
  readonly unit: pulumi.Output<string>;
  /** The launch description's files, copied as they are. */
  readonly files: readonly LaunchFile[];
  /** The replica's Hetzner volume and its attachment, when it has one. */
  readonly volume?: { readonly id: pulumi.Output<string>; readonly attachment: pulumi.Resource };
  /** What must exist before the container starts (its image in the registry). */
  readonly dependsOn: readonly pulumi.Resource[];
}

/** The SSH deployment of one server: its base (readiness, registry login, network) and then each container. */
export class ServerDeployment {
  private readonly connection: command.types.input.remote.ConnectionArgs;
  private readonly serverId: pulumi.Output<string>;
  /** What every container's start waits for. */
  readonly base: pulumi.Resource[];
  private readonly ready: command.remote.Command;

  constructor(private readonly args: ServerDeploymentArgs) {
    const { scope, server } = args;
    this.serverId = server.id;
    this.connection = { host: server.ipv4Address, user: "root", privateKey: pulumi.secret(args.privateKey), ...DIAL };
    const opts = { parent: scope.parent };
    const triggers = [this.serverId];
    this.ready = new command.remote.Command(
      `${scope.name}-deploy-ready`,
      {
        connection: this.connection,
        // Debian 12's cloud-init exits non-zero when a module failed; what matters is that Docker runs.
        create: `cloud-init status --wait >/dev/null 2>&1 || true; systemctl is-active --quiet docker ${EGRESS_UNIT} && test -d ${ETC}/containers`,
        triggers,
      },
      opts,
    );
    const { registry } = args;
    const login = new command.remote.Command(
      `${scope.name}-deploy-registry`,
      {
        connection: this.connection,
        create: `docker login --username ${shellWord(registry.username)} --password-stdin ${shellWord(registry.server)} >/dev/null`,
        stdin: pulumi.secret(registry.password),
        triggers,
      },
      { ...opts, dependsOn: [this.ready] },
    );
    const script = networkScript(args.networks);
    const copies = [
      this.copy(`${scope.name}-deploy-network-script`, script, NETWORK_SCRIPT, opts.parent, [this.ready]),
      this.copy(`${scope.name}-deploy-network-unit`, NETWORK_UNIT, NETWORK_UNIT_PATH, opts.parent, [this.ready]),
    ];
    const network = new command.remote.Command(
      `${scope.name}-deploy-network`,
      {
        connection: this.connection,
        create: `chmod 0755 ${NETWORK_SCRIPT} && systemctl daemon-reload && systemctl enable serverpark-network.service && systemctl restart serverpark-network.service`,
        triggers: [this.serverId, digest([script, NETWORK_UNIT])],
      },
      { ...opts, dependsOn: copies },
    );
    this.base = [login, network];
  }

  private copy(
    name: string,
    content: pulumi.Input<string> | { readonly file: string },
    remotePath: string,
    parent: pulumi.Resource,
    dependsOn: pulumi.Resource[],
  ): command.remote.CopyToRemote {
    return new command.remote.CopyToRemote(
      name,
      {
        connection: this.connection,
        // A secret content makes the asset a secret (in state and on the wire); a view file
        // (components/model/viewFiles.ts) is copied from its path, its bytes never in an input.
        source:
          typeof content === "object" && "file" in content
            ? new pulumi.asset.FileAsset(content.file)
            : pulumi.output(content).apply((text) => new pulumi.asset.StringAsset(text)),
        remotePath,
        triggers: [this.serverId],
      },
      { parent, dependsOn },
    );
  }

  /** One container: its directory, its unit and files, and a start that runs whenever any of them changed. */
  container(c: ContainerDeploymentArgs): command.remote.Command {
    const parent = c.scope.parent;
    const dir = containerDir(c.id);
    const fstab = c.volume ? c.volume.id.apply((id) => volumeFstabLine(c.id, id)) : undefined;
    const volumeCreate = fstab
      ? pulumi.interpolate` && install -d ${VOLUMES}/${c.id} && (grep -qxF '${fstab}' /etc/fstab || echo '${fstab}' >> /etc/fstab) && systemctl daemon-reload`
      : "";
    const volumeDelete = c.volume ? pulumi.interpolate`; sed -i '\\#^/dev/disk/by-id/scsi-0HC_Volume_${c.volume.id} #d' /etc/fstab` : "";
    const lifecycle = new command.remote.Command(
      `${c.name}-container`,
      {
        connection: this.connection,
        create: pulumi.interpolate`install -d -m 0700 -o root -g root ${dir} ${dir}/files${volumeCreate}`,
        // Only on the server it was created on: a replacement server may answer on the same primary IP.
        delete: pulumi.interpolate`[ "$(curl -fsS --max-time 5 ${METADATA_ID} || true)" = "${this.serverId}" ] || exit 0; systemctl disable --now ${unitName(c.id)} || true; rm -f ${unitPath(c.id)}; rm -rf ${dir}${volumeDelete}; systemctl daemon-reload`,
        triggers: [this.serverId],
      },
      // Replaced (a new server, a changed connection): the old one's delete must come first, or
      // on the same server it would remove what the new one just set up.
      { parent, dependsOn: [this.ready, ...(c.volume ? [c.volume.attachment] : [])], deleteBeforeReplace: true },
    );
    const copies = [
      this.copy(`${c.name}-unit`, c.unit, unitPath(c.id), parent, [lifecycle]),
      ...c.files.map((f) => {
        const content = f.source ? { file: f.source.path } : f.secret ? pulumi.secret(f.content) : pulumi.output(f.content);
        return this.copy(`${c.name}-file-${fileSlug(f.path)}`, content, serverFilePath(c.id, f.path), parent, [lifecycle]);
      }),
    ];
    const modes = c.files.map((f) => `chmod ${f.mode.toString(8).padStart(4, "0")} ${serverFilePath(c.id, f.path)}`);
    const owned = c.files.length > 0 ? [`chown 1000:1000 ${c.files.map((f) => serverFilePath(c.id, f.path)).join(" ")}`] : [];
    // Files the launch no longer lists (a renamed or content-addressed file replaced): a copy's delete leaves its file behind.
    const stale = removeOthers(
      `${dir}/files`,
      c.files.map((f) => fileSlug(f.path)),
    );
    // A view file stands in the digest by its SHA-256 (its name), not its bytes.
    const contents = pulumi.all([c.unit, ...c.files.map((f) => (f.source ? f.source.sha256 : f.content))]);
    return new command.remote.Command(
      `${c.name}-start`,
      {
        connection: this.connection,
        create: [
          stale,
          ...owned,
          ...modes,
          "systemctl daemon-reload",
          `systemctl enable ${unitName(c.id)}`,
          `systemctl restart ${unitName(c.id)}`,
          healthy(c.container),
        ].join(" && "),
        // What the container runs with: a change to any of it restarts this container, in place.
        triggers: [this.serverId, contents.apply(([unit, ...files]) => digest([unit!, ...c.files.flatMap((f, i) => [f.path, String(f.mode), files[i]!])]))],
      },
      { parent, dependsOn: [...copies, ...this.base, ...c.dependsOn] },
    );
  }
}
