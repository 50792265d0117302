/**
 * Role images for the Docker target. A role is deployable once `images/<role>/Dockerfile`
 * exists; the image tag carries a hash of the role's sources and the shared runtime, so a
 * code change gives a new tag and Pulumi replaces exactly the containers running that role.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { findProjectRoot } from "../../spec/load";

/** The image every physical host runs: a small agent reporting identity and power state. */
export const HOST_AGENT = "host-agent";

export interface RoleImageSource {
  readonly role: string;
  /** Build context, relative to the project root (Pulumi runs there). */
  readonly context: string;
  readonly dockerfile: string;
  readonly tag: string;
  readonly imageName: string;
}

const SKIP = new Set(["dist", "node_modules", ".cache"]);

function hashTree(root: string, dir: string, hash: ReturnType<typeof createHash>): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir).sort()) {
    if (SKIP.has(entry)) continue;
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) hashTree(root, full, hash);
    else hash.update(relative(root, full)).update("\0").update(readFileSync(full)).update("\0");
  }
}

export function projectVersion(root = findProjectRoot()): string {
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
}

/** The image source for a role, or undefined while the role has no Dockerfile. */
export function roleImageSource(role: string, root = findProjectRoot()): RoleImageSource | undefined {
  const dockerfile = join(root, "images", role, "Dockerfile");
  if (!existsSync(dockerfile)) return undefined;
  const hash = createHash("sha256");
  hashTree(root, join(root, "images", role), hash);
  hashTree(root, join(root, "images", "runtime"), hash);
  const tag = `${projectVersion(root)}-${hash.digest("hex").slice(0, 12)}`;
  return { role, context: `images/${role}`, dockerfile: `images/${role}/Dockerfile`, tag, imageName: `serverpark/${role}:${tag}` };
}

/** Whether the role's bundle was built (`npm run build:images`); docker build needs it. */
export function bundleBuilt(role: string, root = findProjectRoot()): boolean {
  return existsSync(join(root, "images", role, "dist", "main.mjs"));
}
