/**
 * A.8.8 Management of technical vulnerabilities: what runs is built on software lines that
 * still get security fixes. Every image this stack builds starts FROM a Node.js major line in
 * the stack's supported list (default: the active and maintenance LTS lines, 22 and 24), and
 * every Hetzner server boots an OS image from the supported list. The list is config, so
 * retiring a line (Node 22 reaches end of life in April 2027) is a one-line change that makes
 * every stack still on it fail.
 */
import { readFileSync } from "node:fs";
import { resourcePolicy } from "../lib/policy";
import { describeResource, TYPES } from "../lib/resources";
import { baseImages, dockerfileOf } from "./configuration";

const SUPPORTED_NODE = [22, 24];
const SUPPORTED_OS = ["debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04"];

/** Why a base image is not on a supported line, or undefined. */
export function unsupportedBase(image: string, nodeMajors: readonly number[]): string | undefined {
  const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)(?:[.-]|$)/.exec(image);
  if (!m) return `is not a Node.js image of a supported line (${nodeMajors.map((n) => `node:${n}`).join(", ")})`;
  return nodeMajors.includes(Number(m[1])) ? undefined : `is Node.js ${m[1]}, not a supported line (${nodeMajors.join(", ")})`;
}

export const supportedSoftwareLines = resourcePolicy({
  name: "sp-414-supported-software-lines",
  description: "Every image is built FROM a supported Node.js line, and every Hetzner server boots a supported OS image.",
  controls: ["A.8.8"],
  severity: "high",
  remediationSteps:
    "Move the Dockerfile's FROM to a supported Node.js LTS line (e.g. node:24-bookworm-slim) and the server image to a supported release; the lists are the policy's config (nodeMajors, osImages).",
  configSchema: {
    properties: {
      nodeMajors: { type: "array", items: { type: "integer" }, default: SUPPORTED_NODE },
      osImages: { type: "array", items: { type: "string" }, default: SUPPORTED_OS },
      projectRoot: {
        type: "string",
        description: "where relative Dockerfile paths resolve (default: the working directory, then the repository holding the pack)",
      },
    },
  },
  validateResource: (args, report) => {
    const config = args.getConfig<{ nodeMajors?: number[]; osImages?: string[]; projectRoot?: string }>();
    const who = describeResource(args.type, args.name, args.props);
    if (args.type === TYPES.hcloudServer) {
      const image = args.props.image;
      const allowed = config.osImages ?? SUPPORTED_OS;
      if (typeof image === "string" && !allowed.includes(image))
        report(`${who} boots ${image}, not a supported OS image (${allowed.join(", ")}). Fix: move it to a supported release.`);
      return;
    }
    if (args.type !== TYPES.image) return args.notApplicable("applies to images built by the stack and Hetzner servers");
    const dockerfile = dockerfileOf(args);
    if (!dockerfile) return args.notApplicable("not built by this stack");
    const { file, path } = dockerfile;
    if (!path) return report(`${who}: its Dockerfile ${file} cannot be read, so its base cannot be checked. Fix: keep it in the repository.`);
    const majors = config.nodeMajors ?? SUPPORTED_NODE;
    for (const { image } of baseImages(readFileSync(path, "utf8"))) {
      const problem = unsupportedBase(image, majors);
      if (problem) report(`${who}: ${file}: FROM ${image} ${problem}. Fix: build on a supported Node.js line.`);
    }
  },
});

export const VULNERABILITY_POLICIES = [supportedSoftwareLines];
