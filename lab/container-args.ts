/**
 * Translates the inputs of a `docker:index/container:Container` (as
 * @pulumi/docker 5 documents them) into `docker create` / `docker network connect`
 * arguments. Pure but for reading an upload's `source` file, so every mapping is unit-tested
 * without an engine.
 *
 * Every input is either mapped, explicitly accepted as having no effect on a
 * freshly created container (listed in NO_EFFECT with the reason), or rejected by
 * name: the applier must never silently ignore something the real provider applies.
 *
 * Where the docker CLI cannot express an input exactly, the effect is kept:
 * - healthcheck `["CMD", ...argv]` becomes `--health-cmd` (CMD-SHELL) with argv
 *   shell-quoted: same command, run through the image's /bin/sh;
 * - `entrypoints: [a, ...rest]` becomes `--entrypoint a` with `rest` put before the
 *   command: the same argv is executed.
 */

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

type Inputs = Record<string, unknown>;

export interface Upload {
  readonly file: string;
  readonly content: Buffer;
  readonly mode: number;
}

export interface ContainerPlan {
  readonly name: string;
  readonly image: string;
  /** Arguments after `docker create`. */
  readonly createArgs: string[];
  /** One `docker network connect` argument list per network after the first. */
  readonly connects: string[][];
  readonly uploads: Upload[];
  /** Named volumes the container mounts (so the applier can create and label them). */
  readonly namedVolumes: string[];
  /** Every network the container joins (the first at create, the rest by connect). */
  readonly networks: string[];
  readonly start: boolean;
  /** From `wait` / `waitTimeout`: wait until healthy after start. */
  readonly waitHealthyMs?: number;
}

export interface PlanOptions {
  /** Labels added to the container (the applier's ownership labels). */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Bind address for published ports whose `ip` is unset or 0.0.0.0. Tests pass
   * 127.0.0.1 so nothing is exposed beyond this machine. @default faithful (0.0.0.0)
   */
  readonly portBindIp?: string;
}

/** Inputs that change nothing when a container is created once and destroyed with `rm -f -v`. */
const NO_EFFECT: Record<string, string> = {
  mustRun: "reconciliation of a stopped container on later updates",
  removeVolumes: "destroy always removes anonymous volumes (rm -v)",
  destroyGraceSeconds: "destroy removes with rm -f",
  containerReadRefreshTimeoutMilliseconds: "provider polling detail",
};

/** Inputs that map one-to-one onto a `docker create` flag, by value type. */
const STRING_FLAGS: Record<string, string> = {
  hostname: "--hostname",
  domainname: "--domainname",
  user: "--user",
  workingDir: "--workdir",
  stopSignal: "--stop-signal",
  logDriver: "--log-driver",
  pidMode: "--pid",
  ipcMode: "--ipc",
  usernsMode: "--userns",
  cgroupnsMode: "--cgroupns",
  cgroupParent: "--cgroup-parent",
  runtime: "--runtime",
  cpus: "--cpus",
  cpuSet: "--cpuset-cpus",
};
const NUMBER_FLAGS: Record<string, string> = {
  stopTimeout: "--stop-timeout",
  cpuShares: "--cpu-shares",
  cpuQuota: "--cpu-quota",
  cpuPeriod: "--cpu-period",
};
/** One flag per list element. */
const LIST_FLAGS: Record<string, string> = {
  envs: "--env",
  dns: "--dns",
  dnsSearches: "--dns-search",
  dnsOpts: "--dns-option",
  securityOpts: "--security-opt",
  groupAdds: "--group-add",
};
/** One `key=value` flag per map entry. */
const MAP_FLAGS: Record<string, string> = { logOpts: "--log-opt", sysctls: "--sysctl" };
/** Flags given only when the input is true. */
const BOOL_FLAGS: Record<string, string> = {
  privileged: "--privileged",
  readOnly: "--read-only",
  init: "--init",
  rm: "--rm",
  tty: "--tty",
  stdinOpen: "--interactive",
  publishAllPorts: "--publish-all",
};

export class UnsupportedInputError extends Error {}

export function planContainer(inputs: Inputs, options: PlanOptions): ContainerPlan {
  const name = requireString(inputs, "name", "container");
  const where = `container "${name}"`;
  const get = reader(inputs, where);
  const args: string[] = ["--name", name];
  const connects: string[][] = [];
  const uploads: Upload[] = [];
  const namedVolumes: string[] = [];
  let command = get.strings("command");
  const handled = new Set<string>(["name", "image", "command", "start", "wait", "waitTimeout", ...Object.keys(NO_EFFECT)]);
  const flag = (key: string, cliFlag: string, value: string | number | undefined) => {
    handled.add(key);
    if (value !== undefined) args.push(cliFlag, String(value));
  };
  const each = (key: string, cliFlag: string, values: readonly string[] | undefined) => {
    handled.add(key);
    for (const v of values ?? []) args.push(cliFlag, v);
  };
  const toggle = (key: string, cliFlag: string) => {
    handled.add(key);
    if (get.bool(key) === true) args.push(cliFlag);
  };

  for (const [key, cliFlag] of Object.entries(STRING_FLAGS)) flag(key, cliFlag, get.string(key));
  for (const [key, cliFlag] of Object.entries(NUMBER_FLAGS)) flag(key, cliFlag, get.number(key));
  for (const [key, cliFlag] of Object.entries(LIST_FLAGS)) each(key, cliFlag, get.strings(key));
  for (const [key, cliFlag] of Object.entries(MAP_FLAGS)) each(key, cliFlag, entries(get.map(key)));
  for (const [key, cliFlag] of Object.entries(BOOL_FLAGS)) toggle(key, cliFlag);

  // Sizes are MB in the provider (memorySwap -1 = unlimited).
  const mb = (v: number | undefined) => (v === undefined || v === 0 ? undefined : `${v}m`);
  flag("memory", "--memory", mb(get.number("memory")));
  flag("memoryReservation", "--memory-reservation", mb(get.number("memoryReservation")));
  const swap = get.number("memorySwap");
  flag("memorySwap", "--memory-swap", swap === -1 ? "-1" : mb(swap));
  flag("shmSize", "--shm-size", mb(get.number("shmSize")));

  handled.add("restart").add("maxRetryCount");
  const restart = get.string("restart");
  const retries = get.number("maxRetryCount");
  if (restart !== undefined) args.push("--restart", restart === "on-failure" && retries ? `on-failure:${retries}` : restart);

  handled.add("labels");
  for (const l of get.objects("labels")) args.push("--label", `${l.label}=${l.value}`);
  for (const [k, v] of Object.entries(options.labels)) args.push("--label", `${k}=${v}`);

  handled.add("capabilities");
  const caps = get.object("capabilities");
  for (const c of (caps?.adds as string[] | undefined) ?? []) args.push("--cap-add", c);
  for (const c of (caps?.drops as string[] | undefined) ?? []) args.push("--cap-drop", c);

  handled.add("ulimits");
  for (const u of get.objects("ulimits")) args.push("--ulimit", `${u.name}=${u.soft}:${u.hard}`);
  handled.add("hosts");
  for (const h of get.objects("hosts")) args.push("--add-host", `${h.host}:${h.ip}`);
  handled.add("tmpfs");
  for (const [path, opts] of Object.entries(get.map("tmpfs") ?? {})) args.push("--tmpfs", opts ? `${path}:${opts}` : path);

  handled.add("ports");
  for (const p of get.objects("ports")) args.push("--publish", publishSpec(p, options.portBindIp));

  handled.add("volumes");
  for (const v of get.objects("volumes")) {
    if (v.fromContainer) {
      args.push("--volumes-from", String(v.fromContainer));
      continue;
    }
    if (v.selinuxRelabel) throw unsupported(where, "volumes[].selinuxRelabel");
    const target = String(v.containerPath ?? "");
    const ro = v.readOnly === true ? ":ro" : "";
    // hostPath takes precedence over volumeName (provider docs).
    if (v.hostPath) args.push("--volume", `${v.hostPath}:${target}${ro}`);
    else if (v.volumeName) {
      namedVolumes.push(String(v.volumeName));
      args.push("--volume", `${v.volumeName}:${target}${ro}`);
    } else args.push("--volume", target);
  }

  handled.add("mounts");
  for (const m of get.objects("mounts")) {
    if (m.type === "volume" && m.source) namedVolumes.push(String(m.source));
    args.push("--mount", mountSpec(m, where));
  }

  handled.add("healthcheck");
  const hc = get.object("healthcheck");
  if (hc) args.push(...healthcheckArgs(hc, where));

  handled.add("networkMode").add("networksAdvanced");
  const mode = get.string("networkMode");
  const networks = get.objects("networksAdvanced");
  if (networks.length > 0) {
    if (mode !== undefined && mode !== networks[0]?.name) {
      throw unsupported(where, `networkMode "${mode}" together with networksAdvanced`);
    }
    const [first, ...rest] = networks.map((n) => endpointArgs(n, where));
    args.push("--network", first!.network, ...first!.createFlags);
    for (const n of rest) connects.push([...n.connectFlags, n.network, name]);
  } else if (mode !== undefined) args.push("--network", mode);

  handled.add("entrypoints");
  const entrypoints = get.strings("entrypoints");
  if (entrypoints && entrypoints.length > 0) {
    args.push("--entrypoint", entrypoints[0]!);
    command = [...entrypoints.slice(1), ...(command ?? [])];
  }

  handled.add("uploads");
  for (const u of get.objects("uploads")) uploads.push(uploadOf(u, where));
  if (uploads.length > 0 && get.bool("readOnly") === true) {
    // The engine refuses to copy into a read-only root filesystem, for the provider too.
    throw new UnsupportedInputError(
      `${where}: uploads cannot be written into a readOnly container (Docker refuses, with the real provider as well); mount the files instead`,
    );
  }

  const unknown = Object.keys(inputs).filter((k) => !handled.has(k) && inputs[k] !== undefined && inputs[k] !== null);
  if (unknown.length > 0) {
    throw unsupported(where, unknown.map((k) => `"${k}"`).join(", "));
  }

  const image = requireString(inputs, "image", where);
  args.push(image, ...(command ?? []));
  const wait = get.bool("wait") === true;
  return {
    name,
    image,
    createArgs: args,
    connects,
    uploads,
    namedVolumes,
    networks: networks.length > 0 ? networks.map((n) => String(n.name)) : mode !== undefined ? [mode] : [],
    start: get.bool("start") !== false,
    ...(wait ? { waitHealthyMs: (get.number("waitTimeout") ?? 60) * 1000 } : {}),
  };
}

function publishSpec(p: Inputs, bindIp: string | undefined): string {
  let ip = p.ip === undefined || p.ip === null ? "0.0.0.0" : String(p.ip);
  if (ip === "0.0.0.0" && bindIp) ip = bindIp;
  const host = ip.includes(":") ? `[${ip}]` : ip;
  const external = p.external === undefined || p.external === null ? "" : String(p.external);
  return `${host}:${external}:${p.internal}/${p.protocol ?? "tcp"}`;
}

function endpointArgs(n: Inputs, where: string) {
  for (const key of ["driverOpts", "gwPriority", "linkLocalIps", "macAddress"]) {
    if (n[key] !== undefined && n[key] !== null) throw unsupported(where, `networksAdvanced[].${key}`);
  }
  const ipv4 = n.ipv4Address ? ["--ip", String(n.ipv4Address)] : [];
  const ipv6 = n.ipv6Address ? ["--ip6", String(n.ipv6Address)] : [];
  const aliases = (n.aliases as string[] | undefined) ?? [];
  return {
    network: String(n.name),
    createFlags: [...ipv4, ...ipv6, ...aliases.flatMap((a) => ["--network-alias", a])],
    connectFlags: [...ipv4, ...ipv6, ...aliases.flatMap((a) => ["--alias", a])],
  };
}

function healthcheckArgs(hc: Inputs, where: string): string[] {
  const tests = (hc.tests as string[] | undefined) ?? [];
  const [kind, ...rest] = tests;
  if (kind === "NONE") return ["--no-healthcheck"];
  let cmd: string;
  if (kind === "CMD") cmd = rest.map(shellQuote).join(" ");
  else if (kind === "CMD-SHELL") cmd = rest.join(" ");
  else throw new UnsupportedInputError(`${where}: healthcheck.tests must start with "CMD", "CMD-SHELL" or "NONE" (got ${JSON.stringify(tests)})`);
  const out = ["--health-cmd", cmd];
  const duration = (key: string, cliFlag: string) => {
    const v = hc[key];
    if (typeof v === "string" && !/^0+(ns|us|ms|s|m|h)?$/.test(v)) out.push(cliFlag, v);
  };
  duration("interval", "--health-interval");
  duration("timeout", "--health-timeout");
  duration("startPeriod", "--health-start-period");
  duration("startInterval", "--health-start-interval");
  if (typeof hc.retries === "number" && hc.retries > 0) out.push("--health-retries", String(hc.retries));
  return out;
}

function mountSpec(m: Inputs, where: string): string {
  const parts = [`type=${m.type}`, `target=${m.target}`];
  if (m.source) parts.push(`source=${m.source}`);
  if (m.readOnly === true) parts.push("readonly");
  const bind = m.bindOptions as Inputs | undefined;
  if (bind?.propagation) parts.push(`bind-propagation=${bind.propagation}`);
  const vol = m.volumeOptions as Inputs | undefined;
  if (vol) {
    if (vol.subpath) throw unsupported(where, "mounts[].volumeOptions.subpath (needs Docker API 1.45)");
    if (vol.noCopy === true) parts.push("volume-nocopy");
    if (vol.driverName) parts.push(`volume-driver=${vol.driverName}`);
    for (const [k, v] of Object.entries((vol.driverOptions as Record<string, string> | undefined) ?? {})) parts.push(`volume-opt=${k}=${v}`);
    for (const l of (vol.labels as Inputs[] | undefined) ?? []) parts.push(`volume-label=${l.label}=${l.value}`);
  }
  const tmpfs = m.tmpfsOptions as Inputs | undefined;
  if (tmpfs?.sizeBytes) parts.push(`tmpfs-size=${tmpfs.sizeBytes}`);
  if (tmpfs?.mode !== undefined && tmpfs?.mode !== null) parts.push(`tmpfs-mode=${Number(tmpfs.mode).toString(8)}`);
  // --mount is CSV: quote fields holding commas or quotes.
  return parts.map((p) => (/[",]/.test(p) ? `"${p.replace(/"/g, '""')}"` : p)).join(",");
}

function uploadOf(u: Inputs, where: string): Upload {
  const sources = [u.content, u.contentBase64, u.source].filter((s) => s !== undefined && s !== null);
  if (sources.length !== 1) throw new UnsupportedInputError(`${where}: each upload needs exactly one of content, contentBase64, source`);
  const content = u.source
    ? sourceContent(u, where)
    : u.content !== undefined && u.content !== null
      ? Buffer.from(String(u.content), "utf8")
      : Buffer.from(String(u.contentBase64), "base64");
  const mode = u.permissions ? parseInt(String(u.permissions), 8) : u.executable === true ? 0o744 : 0o644;
  // Copied like the provider's CopyToContainer: owned by root, mode from the input.
  if (u.owner || u.group) throw unsupported(where, "uploads[].owner/group");
  return { file: String(u.file), content, mode };
}

/**
 * An upload read from a file on this machine, like the provider reads `source` when it
 * creates the container. With `sourceHash` (the program gives the file's SHA-256) the file
 * must still be that content: a file changed since the program ran is refused, not uploaded.
 */
function sourceContent(u: Inputs, where: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(String(u.source));
  } catch (error) {
    throw new UnsupportedInputError(`${where}: cannot read uploads[].source ${String(u.source)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (u.sourceHash) {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (sha256 !== u.sourceHash)
      throw new UnsupportedInputError(`${where}: uploads[].source ${String(u.source)} has SHA-256 ${sha256}, not the sourceHash ${String(u.sourceHash)}`);
  }
  return bytes;
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\/.:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function entries(map: Record<string, string> | undefined): string[] {
  return Object.entries(map ?? {}).map(([k, v]) => `${k}=${v}`);
}

function unsupported(where: string, what: string): UnsupportedInputError {
  return new UnsupportedInputError(
    `${where}: input ${what} is not supported by the offline applier; it would be silently ignored while the real provider applies it (add it to lab/container-args.ts)`,
  );
}

function requireString(inputs: Inputs, key: string, where: string): string {
  const v = inputs[key];
  if (typeof v !== "string" || v === "") throw new UnsupportedInputError(`${where}: input "${key}" is required (a non-empty string)`);
  return v;
}

/** Typed access to optional inputs; a value of the wrong type is an error naming the input. */
function reader(inputs: Inputs, where: string) {
  const typed = <T>(key: string, check: (v: unknown) => boolean, what: string): T | undefined => {
    const v = inputs[key];
    if (v === undefined || v === null) return undefined;
    if (!check(v)) throw new UnsupportedInputError(`${where}: input "${key}" must be ${what} (got ${JSON.stringify(v)})`);
    return v as T;
  };
  return {
    string: (key: string) => typed<string>(key, (v) => typeof v === "string", "a string"),
    number: (key: string) => typed<number>(key, (v) => typeof v === "number", "a number"),
    bool: (key: string) => typed<boolean>(key, (v) => typeof v === "boolean", "a boolean"),
    strings: (key: string) => typed<string[]>(key, (v) => Array.isArray(v) && v.every((s) => typeof s === "string"), "a list of strings"),
    objects: (key: string) => typed<Inputs[]>(key, (v) => Array.isArray(v), "a list") ?? [],
    object: (key: string) => typed<Inputs>(key, (v) => typeof v === "object" && !Array.isArray(v), "an object"),
    map: (key: string) => typed<Record<string, string>>(key, (v) => typeof v === "object" && !Array.isArray(v), "a map of strings"),
  };
}
