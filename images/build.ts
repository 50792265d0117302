/**
 * Bundles each role's server into one ESM file per entry, on the host:
 *   images/<role>/src/main.ts        -> images/<role>/dist/main.mjs
 *   images/runtime/healthcheck.ts    -> images/<role>/dist/healthcheck.mjs
 * so the Dockerfiles only COPY dist/ and image builds need no network and no npm.
 *
 * Usage: tsx images/build.ts [role ...]   (every folder with src/main.ts when none)
 *        tsx images/build.ts --dockerfiles   (writes every images/<role>/Dockerfile from images/dockerfiles.ts)
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { build, type BuildOptions } from "esbuild";
import { renderDockerfile, ROLE_IMAGES } from "./dockerfiles";

const IMAGES = __dirname;
const ROOT = resolve(IMAGES, "..");

// Bundled CommonJS dependencies still call require() and read __dirname; in an ESM
// bundle neither exists, so the banner defines them the standard way.
const BANNER = [
  'import { createRequire as __spCreateRequire } from "node:module";',
  'import { fileURLToPath as __spFileURLToPath } from "node:url";',
  'import { dirname as __spDirname } from "node:path";',
  "const require = __spCreateRequire(import.meta.url);",
  "const __filename = __spFileURLToPath(import.meta.url);",
  "const __dirname = __spDirname(__filename);",
].join("\n");

const COMMON: BuildOptions = {
  bundle: true,
  platform: "node",
  target: "node24",
  format: "esm",
  outExtension: { ".js": ".mjs" },
  banner: { js: BANNER },
  // Native addons (ssh2's optional crypto binding) cannot be bundled; their
  // packages fall back to pure JS when the .node file is absent.
  external: ["*.node"],
  sourcemap: "linked",
  minify: false, // readable stack traces in `docker logs` matter more than a few KB
  legalComments: "none",
  logLevel: "warning",
  // The image tag is a hash of dist/ (components/targets/docker/images.ts), so the bundle
  // must be the same bytes in every checkout: esbuild writes paths into the bundle's
  // `// path` comments and the source map, relative to absWorkingDir and to the real
  // path of each file. Fixing the working directory to the project root and keeping
  // symlinked paths (a git worktree's node_modules may be a link to another checkout's)
  // leaves only repo-relative paths such as node_modules/pino/lib/caller.js.
  absWorkingDir: ROOT,
  preserveSymlinks: true,
};

/** ssh2's optional native crypto binding (scripts/build-ssh-crypto.sh), as its bundled code requires it. */
const SSH_CRYPTO = {
  built: join(ROOT, "node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node"),
  required: "./crypto/build/Release/sshcrypto.node",
};

/**
 * A bundle that carries ssh2 requires its binding relative to itself (esbuild keeps `*.node`
 * external): copied next to the bundle when it was built, so the image gets the native
 * ciphers; without it ssh2 falls back to JavaScript, as before.
 */
export function copyNativeCrypto(outdir: string): void {
  if (!existsSync(SSH_CRYPTO.built) || !readFileSync(join(outdir, "main.mjs"), "utf8").includes(SSH_CRYPTO.required)) return;
  const target = join(outdir, SSH_CRYPTO.required);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(SSH_CRYPTO.built, target);
}

export function listRoles(): string[] {
  return readdirSync(IMAGES)
    .filter((name) => existsSync(join(IMAGES, name, "src", "main.ts")))
    .sort();
}

export async function buildRole(role: string): Promise<{ file: string; bytes: number }[]> {
  const main = join(IMAGES, role, "src", "main.ts");
  if (!existsSync(main)) {
    throw new Error(`unknown role "${role}": ${relative(process.cwd(), main)} does not exist (roles: ${listRoles().join(", ")})`);
  }
  const outdir = join(IMAGES, role, "dist");
  // Start empty: a file left from an earlier build would be copied into the image and hashed
  // into its tag, so the same sources would not always give the same tag.
  rmSync(outdir, { recursive: true, force: true });
  await build({
    ...COMMON,
    entryPoints: { main, healthcheck: join(IMAGES, "runtime", "healthcheck.ts") },
    outdir,
  });
  copyNativeCrypto(outdir);
  // A role may add files its bundle cannot carry (the db role copies PostgreSQL's binaries).
  const prepare = join(IMAGES, role, "prepare.sh");
  if (existsSync(prepare)) execFileSync("bash", [prepare], { stdio: "inherit" });
  return ["main.mjs", "healthcheck.mjs"].map((file) => ({ file: join(outdir, file), bytes: statSync(join(outdir, file)).size }));
}

/** Writes images/<role>/Dockerfile from the template (images/dockerfiles.ts) for every role. */
export function writeDockerfiles(): string[] {
  return Object.keys(ROLE_IMAGES).map((role) => {
    const file = join(IMAGES, role, "Dockerfile");
    writeFileSync(file, renderDockerfile(role as keyof typeof ROLE_IMAGES));
    return file;
  });
}

async function cli(): Promise<void> {
  if (process.argv[2] === "--dockerfiles") {
    for (const file of writeDockerfiles()) console.log(`wrote ${relative(process.cwd(), file)}`);
    return;
  }
  const roles = process.argv.slice(2);
  const targets = roles.length > 0 ? roles : listRoles();
  const started = performance.now();
  for (const role of targets) {
    for (const { file, bytes } of await buildRole(role)) {
      console.log(`${relative(process.cwd(), file).padEnd(44)} ${(bytes / 1024).toFixed(0).padStart(6)} KiB`);
    }
  }
  console.log(`built ${targets.length} role(s) in ${Math.round(performance.now() - started)} ms`);
}

// Run as a script (tsx images/build.ts), not when imported by tests.
if (typeof require !== "undefined" && require.main === module) {
  cli().catch((error: unknown) => {
    console.error(`build:images failed: ${(error as Error).message}`);
    process.exit(1);
  });
}
