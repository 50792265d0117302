/**
 * Role images for the Docker and Hetzner targets. A role is deployable once
 * `images/<role>/Dockerfile` exists.
 *
 * The image tag is `<package version>-<hash>`, the hash taken over exactly what goes into
 * the image: the Dockerfile and every file its COPY/ADD lines take from the build context,
 * which for every role today is the bundle `npm run build:images` writes to
 * `images/<role>/dist/` (the role's code, the shared runtime, `contracts/` and the npm
 * dependencies, all in one file, plus db's PostgreSQL).
 * So any change that reaches a bundle gives a new tag and Pulumi replaces exactly the
 * containers running that role, and a change that reaches no bundle (a test, a README,
 * the planner) keeps every tag. The bundle is deterministic (images/build.ts), so two
 * checkouts of the same commit agree on the tags.
 *
 * Before the bundle is built there is nothing to hash: the tag is then
 * `<version>-unbuilt` and `built` is false. The targets accept that only in a preview (and
 * under Pulumi's mocks in the tests) and refuse to deploy it.
 */
import { createHash, type Hash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { findProjectRoot } from "../../spec/load";

export { HOST_AGENT } from "../../model/launch";

/** The tag's hash part while the role's bundle has not been built (see the module comment). */
export const UNBUILT = "unbuilt";

export interface RoleImageSource {
  readonly role: string;
  /** Build context, relative to the project root (Pulumi runs there). */
  readonly context: string;
  readonly dockerfile: string;
  readonly tag: string;
  readonly imageName: string;
  /** Whether `images/<role>/dist/` holds a bundle; without it the tag is `<version>-unbuilt`. */
  readonly built: boolean;
}

/**
 * The build-context paths a Dockerfile's COPY and ADD lines read, as written (`dist/`,
 * `dist/*.mjs`); `COPY --from=<stage>` reads another stage, not the context, and is left out.
 * One instruction per line (no `\` continuations), in shell form or JSON form.
 */
export function contextSources(dockerfile: string): string[] {
  const sources: string[] = [];
  for (const raw of dockerfile.split(/\r?\n/)) {
    const instruction = /^\s*(COPY|ADD)\s+(.*)$/i.exec(raw);
    if (!instruction) continue;
    const words = instruction[2]!.trim().split(/\s+/);
    const flags = words.filter((w) => w.startsWith("--"));
    if (flags.some((f) => /^--from=/i.test(f))) continue;
    const rest = words.filter((w) => !w.startsWith("--")).join(" ");
    const paths = rest.startsWith("[") ? (JSON.parse(rest) as string[]) : rest.split(" ");
    sources.push(...paths.slice(0, -1)); // the last one is the destination
  }
  return sources;
}

/** The top folder a context path lies in (`dist/*.mjs` → `dist`), or the path itself. */
function topLevel(source: string): string {
  return posix.normalize(source.replace(/^\.\//, "")).split("/")[0]!;
}

function hashFile(hash: Hash, name: string, full: string): void {
  // Docker keeps the executable bit, so it is part of what is in the image.
  const executable = (statSync(full).mode & 0o111) !== 0;
  hash
    .update(`${name}\0${executable ? "x" : "-"}\0`)
    .update(readFileSync(full))
    .update("\0");
}

/** The file or every file under the folder `name` of the build context, in a fixed order. */
function hashTree(hash: Hash, context: string, name: string): void {
  const full = join(context, name);
  if (statSync(full).isDirectory()) {
    for (const entry of readdirSync(full).sort()) hashTree(hash, context, posix.join(name, entry));
  } else hashFile(hash, name, full);
}

/**
 * The hash of what the image is built from: the Dockerfile and each top-level context entry
 * its COPY/ADD lines read (the whole entry: `COPY dist/*.mjs` hashes all of dist/, which can
 * only add to what changes the tag). A COPY of something missing throws: docker build would
 * fail on it too, later and less clearly.
 */
export function contextHash(contextDir: string): string {
  const dockerfile = readFileSync(join(contextDir, "Dockerfile"), "utf8");
  const hash = createHash("sha256").update(`Dockerfile\0${dockerfile}\0`);
  const entries = [...new Set(contextSources(dockerfile).map(topLevel))].sort();
  for (const entry of entries) {
    if (entry === "." || entry === ".." || /[*?[]/.test(entry)) {
      throw new Error(`${join(contextDir, "Dockerfile")}: COPY of "${entry}" is not supported by the image tag; copy from a folder such as dist/`);
    }
    if (!existsSync(join(contextDir, entry))) throw new Error(`${join(contextDir, "Dockerfile")} copies ${entry}, which does not exist`);
    hashTree(hash, contextDir, entry);
  }
  return hash.digest("hex").slice(0, 12);
}

export function projectVersion(root = findProjectRoot()): string {
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
}

/** Whether the role's bundle was built (`npm run build:images`); docker build needs it. */
export function bundleBuilt(role: string, root = findProjectRoot()): boolean {
  return existsSync(join(root, "images", role, "dist", "main.mjs"));
}

/** The image source for a role, or undefined while the role has no Dockerfile. */
export function roleImageSource(role: string, root = findProjectRoot()): RoleImageSource | undefined {
  const contextDir = join(root, "images", role);
  if (!existsSync(join(contextDir, "Dockerfile"))) return undefined;
  const built = bundleBuilt(role, root);
  const tag = `${projectVersion(root)}-${built ? contextHash(contextDir) : UNBUILT}`;
  return { role, context: `images/${role}`, dockerfile: `images/${role}/Dockerfile`, tag, imageName: `serverpark/${role}:${tag}`, built };
}

/**
 * What the targets do with roles whose bundle is not built: a deployment refuses them (docker
 * build would fail, or worse, a registry would keep serving an older image); a preview goes
 * on with the `<version>-unbuilt` tags and says once that it cannot tell which containers a
 * deployment would replace.
 */
export function checkBuilt(sources: readonly RoleImageSource[], dryRun: boolean, warn: (message: string) => void): void {
  const unbuilt = sources.filter((s) => !s.built).map((s) => s.role);
  if (unbuilt.length === 0) return;
  const dirs = unbuilt.map((role) => `images/${role}/dist`).join(", ");
  if (!dryRun) throw new Error(`${dirs} missing: run \`npm run build:images\` first (\`npm run up\` does it for you)`);
  warn(
    `${dirs} not built: their image tags end in "-${UNBUILT}" in this preview, so it cannot show which ` +
      "containers a deployment would replace; run `npm run build:images` first",
  );
}
