/**
 * A.8.9 Configuration management: what runs is reproducible (images from pinned bases and
 * pinned tags, never `latest`) and traceable (every resource labelled with its datacenter,
 * role and version).
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { ResourceValidationArgs } from "@pulumi/policy";
import { resourcePolicy } from "../lib/policy";
import { describeResource, serverparkLabels, TYPES } from "../lib/resources";

const CONTROLS = ["A.8.9"];

/** `name`, `name:latest`, `name:${VAR}` are unpinned; `name:24-bookworm-slim` and `name@sha256:…` are pinned. */
export function imageRefProblem(ref: string): string | undefined {
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return undefined;
  const lastSlash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", lastSlash + 1);
  if (colon < 0) return "has no tag (means latest)";
  const tag = ref.slice(colon + 1);
  if (tag === "latest") return "uses the tag latest";
  if (tag === "" || tag.includes("$")) return `has a tag that is not fixed ("${tag}")`;
  return undefined;
}

/** The project root: policies/rules/../.. (the pack lives in the repository it checks). */
const PROJECT_ROOT = resolve(__dirname, "..", "..");

/** The base images a Dockerfile's FROM lines name (`raw` as written, `image` with ARG defaults resolved); earlier stages and scratch are left out. */
export function baseImages(dockerfile: string): { raw: string; image: string }[] {
  const stages = new Set<string>();
  const args = new Map<string, string>();
  const bases: { raw: string; image: string }[] = [];
  for (const raw of dockerfile.split(/\r?\n/)) {
    const line = raw.trim();
    const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S+))?/i.exec(line);
    if (arg && arg[2]) args.set(arg[1]!, arg[2].replace(/^["']|["']$/g, ""));
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!from) continue;
    const image = from[1]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n: string) => args.get(n) ?? `$${n}`);
    if (!stages.has(image.toLowerCase()) && image !== "scratch") bases.push({ raw: from[1]!, image });
    if (from[2]) stages.add(from[2].toLowerCase());
  }
  return bases;
}

/** FROM lines of a Dockerfile whose base is not pinned; `FROM <stage>` of an earlier stage is fine. */
export function unpinnedBases(dockerfile: string): string[] {
  return baseImages(dockerfile).flatMap(({ raw, image }) => {
    const problem = imageRefProblem(image);
    return problem ? [`FROM ${raw} ${problem}`] : [];
  });
}

/** Where a built image's Dockerfile is: `projectRoot` config, the working directory, then the repository holding the pack. */
export function dockerfileOf(args: ResourceValidationArgs): { file: string; path?: string } | undefined {
  const build = (args.props.build ?? {}) as { context?: string; dockerfile?: string };
  if (!build.context && !build.dockerfile) return undefined;
  const file = build.dockerfile ?? join(build.context ?? ".", "Dockerfile");
  const roots = [args.getConfig<{ projectRoot?: string }>().projectRoot, process.cwd(), PROJECT_ROOT].filter((r): r is string => typeof r === "string");
  const path = isAbsolute(file) ? file : roots.map((r) => resolve(r, file)).find((p) => existsSync(p));
  return path && existsSync(path) ? { file, path } : { file };
}

export const pinnedImages = resourcePolicy({
  name: "sp-411-pinned-images",
  description: "Images are built from pinned bases and run by pinned tags (never latest or untagged).",
  controls: CONTROLS,
  severity: "medium",
  remediationSteps:
    "Give every FROM an explicit tag such as node:24-bookworm-slim (or a digest), and reference images by a version tag or digest, never latest.",
  configSchema: {
    properties: {
      projectRoot: {
        type: "string",
        description: "where relative Dockerfile paths resolve (default: the working directory, then the repository holding the pack)",
      },
    },
  },
  validateResource: (args, report) => {
    const p = args.props;
    const who = describeResource(args.type, args.name, p);
    if (args.type === TYPES.image) {
      const problem = typeof p.imageName === "string" ? imageRefProblem(p.imageName) : "has no imageName";
      if (problem) report(`${who}: image ${p.imageName ?? ""} ${problem}. Fix: tag it with a version.`);
      const dockerfile = dockerfileOf(args);
      if (!dockerfile) return;
      const { file, path } = dockerfile;
      if (!path) return report(`${who}: its Dockerfile ${file} cannot be read, so its base cannot be checked. Fix: keep the Dockerfile in the repository.`);
      for (const problem of unpinnedBases(readFileSync(path, "utf8"))) report(`${who}: ${file}: ${problem}. Fix: pin the base image with a tag or digest.`);
      return;
    }
    const ref = args.type === TYPES.container ? p.image : args.type === TYPES.remoteImage ? p.name : undefined;
    if (ref === undefined) return args.notApplicable("applies to docker images and containers");
    const problem = typeof ref === "string" ? imageRefProblem(ref) : undefined;
    if (problem) report(`${who} runs image ${ref} which ${problem}. Fix: reference a version tag or digest.`);
  },
});

/** Label keys each labelled resource type must carry (`serverpark.<key>` on Docker, `serverpark/<key>` style on hcloud). */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  [TYPES.container]: ["datacenter", "role", "version"],
  [TYPES.volume]: ["datacenter", "role", "version"],
  [TYPES.network]: ["datacenter", "version"],
  [TYPES.hcloudServer]: ["datacenter", "role", "version"],
  [TYPES.hcloudVolume]: ["datacenter", "role", "version"],
};

export const resourceLabels = resourcePolicy({
  name: "sp-412-resource-labels",
  description: "Containers, volumes and servers carry datacenter, role and version labels (networks: datacenter and version).",
  controls: CONTROLS,
  severity: "low",
  remediationSteps: "Create the resource through a Serverpark target, which labels it serverpark.datacenter, serverpark.role and serverpark.version.",
  validateResource: (args, report) => {
    const required = REQUIRED[args.type];
    if (!required) return args.notApplicable(`no labels required on ${args.type}`);
    const labels = serverparkLabels(args.props);
    const missing = required.filter((k) => !labels[k]);
    if (missing.length > 0) {
      report(
        `${describeResource(args.type, args.name, args.props)} lacks the label${missing.length > 1 ? "s" : ""} ${missing.map((m) => `serverpark.${m}`).join(", ")}. Fix: create it through a Serverpark target (or add the labels).`,
      );
    }
  },
});

export const CONFIGURATION_POLICIES = [pinnedImages, resourceLabels];
