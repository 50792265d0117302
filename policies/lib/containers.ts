/**
 * One view of a container for the container policies, whichever target started it: a
 * `docker:index/container:Container` (Docker target: its inputs), or a `docker run` in a
 * systemd unit on a Hetzner server (Hetzner target: one unit per container, copied over SSH
 * by a `command:remote:CopyToRemote`; units in a server's cloud-init `userData` are read too).
 * So privileged access, limits, logs, health and published ports are judged the same on both.
 */
import type { ResourceValidationArgs } from "@pulumi/policy";
import { parse } from "yaml";
import { describeResource, serverparkLabels, TYPES } from "./resources";
import { UNKNOWN, unproxied } from "./settings";

export interface ContainerView {
  /** How messages name the container. */
  readonly who: string;
  readonly role: string;
  readonly privileged: boolean;
  /** Host paths mounted into the container. */
  readonly hostMounts: readonly string[];
  readonly namespaces: Readonly<Record<"networkMode" | "pidMode" | "ipcMode" | "usernsMode", string | undefined>>;
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  readonly user?: string;
  readonly memoryLimited: boolean;
  readonly cpuLimited: boolean;
  readonly logDriver?: string;
  readonly logOpts: Readonly<Record<string, string>>;
  /** Health check command; empty when none. */
  readonly healthTests: readonly string[];
  readonly ports: readonly { readonly internal: number; readonly protocol: string; readonly ip?: string }[];
  /** The container's environment (`NAME` → value). */
  readonly env: Readonly<Record<string, string>>;
  /** Paths inside the container where files are placed (uploads, read-only bind mounts). */
  readonly files: readonly string[];
  /**
   * What is mounted where: `source` is a named volume, or a path on the machine that runs the
   * container (`bind`); "" when not known yet (a volume name computed during a preview).
   */
  readonly mounts: readonly ContainerMount[];
}

export interface ContainerMount {
  readonly source: string;
  /** The path inside the container. */
  readonly target: string;
  readonly bind: boolean;
}

/** A string value, or "" when it is missing or not known until the update. */
const known = (v: unknown): string => (typeof v === "string" && v !== UNKNOWN ? v : "");

/** `NAME=value` lines (an env list, or an `--env-file`) as a record; later names win. */
export function envRecord(lines: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines) {
    const eq = line.indexOf("=");
    if (eq > 0 && !line.startsWith("#")) env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return env;
}

const positive = (v: unknown) => (typeof v === "number" && v > 0) || (typeof v === "string" && Number(v) > 0);

export function fromDockerContainer(type: string, name: string, props: Record<string, any>): ContainerView {
  const caps = (props.capabilities ?? {}) as { adds?: string[]; drops?: string[] };
  return {
    who: describeResource(type, name, props),
    role: serverparkLabels(props).role ?? "unknown",
    privileged: props.privileged === true,
    hostMounts: [
      ...((props.volumes ?? []) as { hostPath?: string }[]).map((v) => v.hostPath ?? "").filter((p) => p !== ""),
      ...((props.mounts ?? []) as { source?: string; type?: string }[]).filter((m) => m.type === "bind").map((m) => m.source ?? ""),
    ],
    namespaces: { networkMode: props.networkMode, pidMode: props.pidMode, ipcMode: props.ipcMode, usernsMode: props.usernsMode },
    capAdd: caps.adds ?? [],
    capDrop: caps.drops ?? [],
    ...(typeof props.user === "string" ? { user: props.user } : {}),
    memoryLimited: positive(props.memory),
    cpuLimited: (positive(props.cpuQuota) && (props.cpuPeriod === undefined || positive(props.cpuPeriod))) || positive(props.cpus),
    ...(typeof props.logDriver === "string" ? { logDriver: props.logDriver } : {}),
    logOpts: (props.logOpts ?? {}) as Record<string, string>,
    healthTests: ((props.healthcheck as { tests?: string[] } | undefined)?.tests ?? []).filter((t) => t !== "NONE"),
    ports: ((props.ports ?? []) as { internal: number; protocol?: string; ip?: string }[]).map((p) => ({
      internal: p.internal,
      protocol: p.protocol ?? "tcp",
      ...(p.ip ? { ip: p.ip } : {}),
    })),
    env: envRecord(((props.envs ?? []) as unknown[]).filter((e): e is string => typeof e === "string")),
    files: ((props.uploads ?? []) as { file?: string }[]).map((u) => u.file ?? "").filter((f) => f !== ""),
    mounts: dockerMounts(unproxied(props)),
  };
}

/** A Docker container's `volumes` and `mounts`, read past the unknown-checking proxy (a volume's name may be computed). */
function dockerMounts(props: Record<string, any>): ContainerMount[] {
  const volumes = Array.isArray(props.volumes) ? (props.volumes as Record<string, unknown>[]) : [];
  const mounts = Array.isArray(props.mounts) ? (props.mounts as Record<string, unknown>[]) : [];
  return [
    ...volumes.map((v) => {
      const host = known(v.hostPath);
      return { source: host || known(v.volumeName), target: known(v.containerPath), bind: host !== "" };
    }),
    ...mounts.map((m) => ({ source: known(m.source), target: known(m.target), bind: m.type === "bind" })),
  ];
}

/** Splits a systemd command line into arguments: quotes, `\` escapes, `$$`/`%%` and line continuations. */
export function splitCommandLine(line: string): string[] {
  const args: string[] = [];
  let cur = "";
  let quoted = false;
  let has = false;
  const text = line.replace(/\\\n/g, " ");
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted && ch === "\\" && i + 1 < text.length) cur += text[++i];
    else if (ch === '"') [quoted, has] = [!quoted, true];
    else if (!quoted && /\s/.test(ch)) {
      if (has || cur !== "") args.push(cur);
      [cur, has] = ["", false];
    } else cur += ch;
  }
  if (has || cur !== "") args.push(cur);
  return args.map((a) => a.replace(/\$\$/g, "$").replace(/%%/g, "%"));
}

/** The view of one `docker run …` (arguments after `run`); `envFiles` are the contents of files it names with `--env-file`. */
export function fromDockerRun(who: string, argv: readonly string[], envFiles: Readonly<Record<string, string>> = {}): ContainerView {
  const flags = new Map<string, string[]>();
  let image = "";
  const BOOLEAN = new Set(["--privileged", "--rm", "--read-only", "--init", "--no-healthcheck", "-d", "--detach", "-i", "-t"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-")) {
      image = a;
      break;
    }
    const eq = a.indexOf("=");
    const [flag, value] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : BOOLEAN.has(a) ? [a, "true"] : [a, argv[++i] ?? ""];
    flags.set(flag, [...(flags.get(flag) ?? []), value]);
  }
  const all = (...names: string[]) => names.flatMap((n) => flags.get(n) ?? []);
  const last = (...names: string[]) => all(...names).pop();
  const volumes = all("-v", "--volume")
    .map((v) => v.split(":")[0]!)
    .filter((src) => src.startsWith("/"));
  const mounts: ContainerMount[] = [
    ...all("-v", "--volume")
      .map((v) => v.split(":"))
      .filter((parts) => parts.length >= 2)
      .map(([source, target]) => ({ source: source!, target: target!, bind: source!.startsWith("/") })),
    ...all("--mount")
      .map((m) => Object.fromEntries(m.split(",").map((kv) => kv.split("=") as [string, string])))
      .map((m) => ({ source: m.source ?? m.src ?? "", target: m.target ?? m.destination ?? m.dst ?? "", bind: m.type === "bind" })),
  ];
  const ports = all("-p", "--publish").map((p) => {
    const [spec, protocol = "tcp"] = p.split("/");
    const parts = spec!.split(":");
    return { internal: Number(parts[parts.length - 1]), protocol, ...(parts.length === 3 ? { ip: parts[0]! } : {}) };
  });
  const logOpts = Object.fromEntries(all("--log-opt").map((o) => [o.slice(0, o.indexOf("=")), o.slice(o.indexOf("=") + 1)]));
  const health = flags.has("--no-healthcheck")
    ? []
    : all("--health-cmd")
        .map((c) => ["CMD-SHELL", c])
        .flat();
  const user = last("-u", "--user");
  const logDriver = last("--log-driver");
  return {
    who,
    role: image.split("/").pop()!.split(/[:@]/)[0]!,
    privileged: flags.has("--privileged"),
    hostMounts: [...volumes, ...mounts.filter((m) => m.bind && !volumes.includes(m.source)).map((m) => m.source)],
    namespaces: { networkMode: last("--network", "--net"), pidMode: last("--pid"), ipcMode: last("--ipc"), usernsMode: last("--userns") },
    capAdd: all("--cap-add"),
    capDrop: all("--cap-drop"),
    ...(user !== undefined ? { user } : {}),
    memoryLimited: all("-m", "--memory").some((m) => parseFloat(m) > 0),
    cpuLimited: all("--cpus").some((c) => Number(c) > 0) || all("--cpu-quota").some((c) => Number(c) > 0),
    ...(logDriver !== undefined ? { logDriver } : {}),
    logOpts,
    healthTests: health,
    ports,
    env: envRecord([...all("--env-file").flatMap((f) => (envFiles[f] ?? "").split("\n")), ...all("-e", "--env")]),
    files: all("-v", "--volume")
      .map((v) => v.split(":"))
      .filter((parts) => parts.length >= 2 && parts[0]!.startsWith("/"))
      .map((parts) => parts[1]!),
    mounts,
  };
}

const UNIT_PATH = /^\/etc\/systemd\/system\/(serverpark-.+)\.service$/;
/** A unit that runs a copied file through `copyToRemote`: the Hetzner deployment's. */
export const COPY_TO_REMOTE = "command:remote:CopyToRemote";

/** Where the Hetzner deployment copies the unit of the container `id` (a replica id, or host-agent). */
export function unitPathOf(id: string): string {
  return `/etc/systemd/system/serverpark-${id}.service`;
}

/** The container a serverpark unit's `ExecStart=docker run …` starts, if it starts one. */
function fromUnit(who: string, unit: string, envFiles: Readonly<Record<string, string>>): ContainerView | undefined {
  const exec = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(unit)?.[1];
  if (!exec) return undefined;
  const argv = splitCommandLine(exec);
  const run = argv.indexOf("run");
  if (!/(^|\/)docker$/.test(argv[0] ?? "") || run < 0) return undefined;
  return fromDockerRun(who, argv.slice(run + 1), envFiles);
}

/** The containers a Hetzner server's cloud-init starts: one `docker run` per serverpark unit. */
export function fromCloudInit(serverName: string, userData: string): ContainerView[] {
  let config: { write_files?: { path?: string; content?: string; encoding?: string }[] };
  try {
    config = parse(userData.replace(/^#cloud-config\n/, "")) ?? {};
  } catch {
    return [];
  }
  const views: ContainerView[] = [];
  const plain = Object.fromEntries(
    (config.write_files ?? []).filter((f) => !f.encoding && typeof f.content === "string").map((f) => [f.path ?? "", f.content!]),
  );
  for (const f of config.write_files ?? []) {
    const unit = UNIT_PATH.exec(f.path ?? "")?.[1];
    if (!unit || f.encoding || typeof f.content !== "string") continue;
    const view = fromUnit(`Server "${serverName}" container of unit ${unit}`, f.content, plain);
    if (view) views.push(view);
  }
  return views;
}

/** The container of a unit the Hetzner deployment copies to a server (a text asset at /etc/systemd/system/serverpark-*.service). */
export async function fromCopiedUnit(name: string, props: Record<string, any>): Promise<ContainerView | undefined> {
  const unit = typeof props.remotePath === "string" ? UNIT_PATH.exec(props.remotePath)?.[1] : undefined;
  if (!unit) return undefined;
  const text: unknown = await unproxied(props.source as { text?: unknown } | undefined)?.text;
  if (typeof text !== "string" || text === UNKNOWN) return undefined;
  return fromUnit(`Unit ${unit} copied by "${name}"`, text, {});
}

/**
 * The containers a resource starts, or undefined when it starts none this module knows. A
 * resource policy passes its args (inputs); a stack policy one of its resources.
 */
export async function containersOf(args: Pick<ResourceValidationArgs, "type" | "name" | "props">): Promise<ContainerView[] | undefined> {
  if (args.type === TYPES.container) return [fromDockerContainer(args.type, args.name, args.props)];
  if (args.type === COPY_TO_REMOTE) {
    const view = await fromCopiedUnit(args.name, unproxied(args.props));
    return view ? [view] : undefined;
  }
  if (args.type === TYPES.hcloudServer) {
    const props = unproxied(args.props);
    const userData = props.userData;
    if (typeof userData !== "string" || userData === UNKNOWN) return undefined;
    const views = fromCloudInit(typeof props.name === "string" ? props.name : args.name, userData);
    return views.length > 0 ? views : undefined;
  }
  return undefined;
}
