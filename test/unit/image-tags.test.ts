/**
 * Image tags are the hash of what goes into the image (components/targets/docker/images.ts):
 * the Dockerfile and what it copies from the build context (the built dist/), nothing else.
 * Each case builds a small project in a temporary folder, so the real bundles are not needed.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkBuilt, contextSources, roleImageSource, UNBUILT, type RoleImageSource } from "../../components/targets/docker/images";

const DOCKERFILE = "FROM node:24-bookworm-slim\nWORKDIR /app\nCOPY dist/ /app/\nUSER node\n";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project root with package.json and the given files (paths relative to the root). */
function project(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "sp-tags-"));
  made.push(root);
  write(root, "package.json", JSON.stringify({ version: "1.2.3" }));
  for (const [path, text] of Object.entries(files)) write(root, path, text);
  return root;
}

function write(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

/** A built web role: Dockerfile, bundle, and sources that are not in the image. */
function builtWeb(): string {
  return project({
    "images/web/Dockerfile": DOCKERFILE,
    "images/web/dist/main.mjs": "console.log('web');\n",
    "images/web/dist/main.mjs.map": "{}",
    "images/web/dist/healthcheck.mjs": "process.exit(0);\n",
    "images/web/src/main.ts": "console.log('web');\n",
    "images/web/README.md": "# web\n",
  });
}

const tagOf = (root: string, role = "web") => roleImageSource(role, root)!.tag;

describe("roleImageSource tags", () => {
  it("is <version>-<12 hex> once built, the image name carrying the same tag", () => {
    const source = roleImageSource("web", builtWeb())!;
    expect(source.built).toBe(true);
    expect(source.tag).toMatch(/^1\.2\.3-[0-9a-f]{12}$/);
    expect(source.imageName).toBe(`serverpark/web:${source.tag}`);
    expect(source).toMatchObject({ context: "images/web", dockerfile: "images/web/Dockerfile" });
  });

  it("is <version>-unbuilt, and not built, while dist/ has no bundle", () => {
    const source = roleImageSource("web", project({ "images/web/Dockerfile": DOCKERFILE, "images/web/src/main.ts": "x" }))!;
    expect(source).toMatchObject({ built: false, tag: `1.2.3-${UNBUILT}` });
  });

  it("is undefined for a role without a Dockerfile", () => {
    expect(roleImageSource("web", project({ "images/web/src/main.ts": "x" }))).toBeUndefined();
  });

  it.each([
    ["the bundle", "images/web/dist/main.mjs", "console.log('web 2');\n"],
    ["the source map", "images/web/dist/main.mjs.map", '{"version":3}'],
    ["a file nested in dist/", "images/web/dist/pg/bin/postgres", "binary"],
    ["the Dockerfile", "images/web/Dockerfile", DOCKERFILE + "EXPOSE 80\n"],
  ])("changes when %s changes", (_what, path, text) => {
    const root = builtWeb();
    const before = tagOf(root);
    write(root, path, text);
    expect(tagOf(root)).not.toBe(before);
  });

  it("changes when a file in dist/ is renamed (same bytes, another path in the image)", () => {
    const root = builtWeb();
    const before = tagOf(root);
    rmSync(join(root, "images/web/dist/main.mjs.map"));
    write(root, "images/web/dist/other.map", "{}");
    expect(tagOf(root)).not.toBe(before);
  });

  it("changes when a file in dist/ becomes executable (docker keeps the mode)", () => {
    const root = builtWeb();
    const before = tagOf(root);
    chmodSync(join(root, "images/web/dist/main.mjs"), 0o755);
    expect(tagOf(root)).not.toBe(before);
  });

  it.each([
    ["the role's sources", "images/web/src/main.ts", "console.log('changed');\n"],
    ["the role's README", "images/web/README.md", "# web, reworded\n"],
    ["the shared runtime's sources", "images/runtime/log.ts", "export {};\n"],
    ["another role's bundle", "images/dns/dist/main.mjs", "console.log('dns');\n"],
    ["the program", "components/plan/plan.ts", "export {};\n"],
  ])("stays when %s change but the bundle does not", (_what, path, text) => {
    const root = builtWeb();
    const before = tagOf(root);
    write(root, path, text);
    expect(tagOf(root)).toBe(before);
  });

  it("is the same for the same files in another folder (checkouts agree)", () => {
    const a = builtWeb();
    const b = builtWeb();
    expect(a).not.toBe(b);
    expect(tagOf(b)).toBe(tagOf(a));
  });

  it("also covers context files other than dist/ that the Dockerfile copies", () => {
    const root = builtWeb();
    write(root, "images/web/Dockerfile", DOCKERFILE + "COPY extra.conf /etc/extra.conf\n");
    write(root, "images/web/extra.conf", "a\n");
    const before = tagOf(root);
    write(root, "images/web/extra.conf", "b\n");
    expect(tagOf(root)).not.toBe(before);
  });

  it("refuses COPY sources it cannot hash exactly: the whole context, a pattern at its top", () => {
    for (const copy of ["COPY . /app/", "COPY *.conf /etc/"]) {
      const root = builtWeb();
      write(root, "images/web/Dockerfile", `${DOCKERFILE}${copy}\n`);
      expect(() => tagOf(root), copy).toThrow(/is not supported by the image tag/);
    }
  });

  it("refuses a Dockerfile that copies a context file that does not exist", () => {
    const root = builtWeb();
    write(root, "images/web/Dockerfile", DOCKERFILE + "COPY missing.conf /etc/\n");
    expect(() => tagOf(root)).toThrow(/copies missing\.conf, which does not exist/);
  });
});

describe("contextSources", () => {
  it("reads COPY/ADD sources, not destinations, flags or other stages", () => {
    const text = [
      "FROM node:24-bookworm-slim AS build",
      "COPY dist/pg/ /",
      "COPY dist/*.mjs dist/*.map /app/",
      "COPY --chown=node:node conf/ /etc/app/",
      "COPY --from=build /out /app/out",
      "ADD extra.tar /opt/",
      'COPY ["json form/", "/app/"]',
      "RUN echo COPY nothing /",
    ].join("\n");
    expect(contextSources(text)).toEqual(["dist/pg/", "dist/*.mjs", "dist/*.map", "conf/", "extra.tar", "json form/"]);
  });

  it("finds that every role's Dockerfile copies only its dist/ (so the tag is the bundle's)", () => {
    const images = join(__dirname, "..", "..", "images");
    const roles = readdirSync(images).filter((role) => existsSync(join(images, role, "Dockerfile")));
    expect(roles).toContain("host-agent");
    for (const role of roles) {
      const sources = contextSources(readFileSync(join(images, role, "Dockerfile"), "utf8"));
      expect(sources.length, role).toBeGreaterThan(0);
      for (const source of sources) expect(source, role).toMatch(/^dist(\/|$)/);
    }
  });
});

describe("checkBuilt", () => {
  const source = (role: string, built: boolean) => ({ role, built }) as RoleImageSource;

  it("refuses to deploy an unbuilt role, naming its dist/", () => {
    expect(() => checkBuilt([source("web", true), source("dns", false)], false, () => {})).toThrow(/images\/dns\/dist missing: run `npm run build:images`/);
  });

  it("warns once in a preview, naming the unbuilt roles", () => {
    const warnings: string[] = [];
    checkBuilt([source("web", false), source("dns", false), source("db", true)], true, (m) => warnings.push(m));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^images\/web\/dist, images\/dns\/dist not built: .*-unbuilt/);
  });

  it("is silent when every bundle is built", () => {
    const warnings: string[] = [];
    checkBuilt([source("web", true)], false, (m) => warnings.push(m));
    checkBuilt([source("web", true)], true, (m) => warnings.push(m));
    expect(warnings).toEqual([]);
  });
});
