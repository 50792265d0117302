/**
 * Translates @pulumi/docker 5 Network, Volume and Image inputs into docker
 * CLI arguments (pure; see container-args.ts for containers and the rules: every
 * input is mapped or rejected by name, never silently dropped).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { UnsupportedInputError } from "./container-args";

type Inputs = Record<string, unknown>;
type Labels = Readonly<Record<string, string>>;

function rejectUnknown(inputs: Inputs, known: readonly string[], where: string): void {
  const unknown = Object.keys(inputs).filter((k) => !known.includes(k) && inputs[k] !== undefined && inputs[k] !== null);
  if (unknown.length > 0) {
    throw new UnsupportedInputError(
      `${where}: input ${unknown.map((k) => `"${k}"`).join(", ")} is not supported by the offline applier (add it to lab/resource-args.ts)`,
    );
  }
}

function labelArgs(list: unknown, extra: Labels): string[] {
  const pairs = [...((list as Inputs[] | undefined) ?? []).map((l) => `${l.label}=${l.value}`), ...Object.entries(extra).map(([k, v]) => `${k}=${v}`)];
  return pairs.flatMap((p) => ["--label", p]);
}

/** Arguments after `docker network create`. */
export function networkCreateArgs(inputs: Inputs, labels: Labels): string[] {
  const name = String(inputs.name ?? "");
  const where = `network "${name}"`;
  if (!name) throw new UnsupportedInputError(`network: input "name" is required by the offline applier`);
  rejectUnknown(inputs, ["name", "driver", "internal", "attachable", "ipv6", "ipamConfigs", "ipamDriver", "ipamOptions", "labels", "options"], where);
  const args: string[] = [];
  if (inputs.driver) args.push("--driver", String(inputs.driver));
  if (inputs.internal === true) args.push("--internal");
  if (inputs.attachable === true) args.push("--attachable");
  if (inputs.ipv6 === true) args.push("--ipv6");
  if (inputs.ipamDriver) args.push("--ipam-driver", String(inputs.ipamDriver));
  for (const [k, v] of Object.entries((inputs.ipamOptions as Labels | undefined) ?? {})) args.push("--ipam-opt", `${k}=${v}`);
  for (const c of (inputs.ipamConfigs as Inputs[] | undefined) ?? []) {
    if (c.subnet) args.push("--subnet", String(c.subnet));
    if (c.gateway) args.push("--gateway", String(c.gateway));
    if (c.ipRange) args.push("--ip-range", String(c.ipRange));
    for (const [k, v] of Object.entries((c.auxAddress as Labels | undefined) ?? {})) args.push("--aux-address", `${k}=${v}`);
  }
  for (const [k, v] of Object.entries((inputs.options as Labels | undefined) ?? {})) args.push("--opt", `${k}=${v}`);
  args.push(...labelArgs(inputs.labels, labels), name);
  return args;
}

/** Arguments after `docker volume create`. */
export function volumeCreateArgs(inputs: Inputs, labels: Labels): string[] {
  const name = String(inputs.name ?? "");
  if (!name) throw new UnsupportedInputError(`volume: input "name" is required by the offline applier`);
  rejectUnknown(inputs, ["name", "driver", "driverOpts", "labels"], `volume "${name}"`);
  const args: string[] = [];
  if (inputs.driver) args.push("--driver", String(inputs.driver));
  for (const [k, v] of Object.entries((inputs.driverOpts as Labels | undefined) ?? {})) args.push("--opt", `${k}=${v}`);
  args.push(...labelArgs(inputs.labels, labels), name);
  return args;
}

export interface ImageBuild {
  readonly imageName: string;
  readonly context: string;
  readonly dockerfile: string;
  /** Arguments after `docker build` (tag, file, args; the context last). */
  readonly args: string[];
  /** Hash of context files, Dockerfile and args; the applier skips identical rebuilds. */
  readonly hash: string;
}

export const CONTEXT_HASH_LABEL = "serverpark.context-hash";

/**
 * As the provider: context defaults to ".", the Dockerfile to `<context>/Dockerfile`,
 * and a given `dockerfile` path is relative to the program's working directory
 * (`cwd`), not to the context. The legacy builder is used for both builderVersion
 * values (no buildx here); our Dockerfiles use nothing BuildKit-only.
 */
export function imageBuild(inputs: Inputs, cwd: string): ImageBuild {
  const imageName = String(inputs.imageName ?? "");
  const where = `image "${imageName}"`;
  if (!imageName) throw new UnsupportedInputError(`image: input "imageName" is required`);
  rejectUnknown(inputs, ["imageName", "build", "skipPush", "buildOnPreview"], where);
  if (inputs.skipPush !== true) {
    throw new UnsupportedInputError(`${where}: skipPush must be true: the real provider would push to a registry, which the offline applier cannot`);
  }
  const build = (inputs.build as Inputs | undefined) ?? {};
  rejectUnknown(build, ["context", "dockerfile", "args", "builderVersion", "target", "addHosts", "network", "platform"], `${where} build`);
  if (build.builderVersion !== undefined && !["BuilderV1", "BuilderBuildKit"].includes(String(build.builderVersion))) {
    throw new UnsupportedInputError(`${where}: invalid builderVersion ${JSON.stringify(build.builderVersion)}`);
  }
  const context = resolve(cwd, String(build.context ?? "."));
  const dockerfile = build.dockerfile ? resolve(cwd, String(build.dockerfile)) : join(context, "Dockerfile");
  const args = ["--tag", imageName, "--file", dockerfile];
  for (const [k, v] of Object.entries((build.args as Labels | undefined) ?? {}).sort()) args.push("--build-arg", `${k}=${v}`);
  if (build.target) args.push("--target", String(build.target));
  if (build.network) args.push("--network", String(build.network));
  if (build.platform) args.push("--platform", String(build.platform));
  for (const h of (build.addHosts as string[] | undefined) ?? []) args.push("--add-host", h);

  const hash = createHash("sha256");
  hash.update(JSON.stringify(args.slice(4)));
  hash.update(readFileSync(dockerfile));
  hashTree(context, context, hash);
  const digest = hash.digest("hex").slice(0, 24);
  args.push("--label", `${CONTEXT_HASH_LABEL}=${digest}`, context);
  return { imageName, context, dockerfile, args, hash: digest };
}

/** Every file under `dir` (path and bytes, sorted). A superset of what .dockerignore lets through, so never stale. */
function hashTree(root: string, dir: string, hash: ReturnType<typeof createHash>): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name === ".git") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) hashTree(root, path, hash);
    else if (entry.isFile()) {
      hash.update(`${relative(root, path)}\0${statSync(path).mode}\0`);
      hash.update(readFileSync(path));
    }
  }
}
