/**
 * The project's docs stand on their own: every repository path its Markdown cites exists, and
 * no file cites a file outside the repository.
 *
 * The rules, kept simple on purpose:
 *
 * 1. Markdown links `[text](target)` whose target is not a URL (`https:`, `mailto:` …) or an
 *    anchor (`#…`) must name a file or folder that exists, relative to the Markdown file
 *    (a leading `/` means the repository root), and inside the repository.
 * 2. Inline code spans (`` `components/power/README.md` ``) outside fenced code blocks are
 *    paths when they are one word of path characters (letters, digits, `._@+-/`) with at
 *    least one `/`, optionally followed by `:line`. Such a path is a citation when its first
 *    folder exists at the repository root or next to the Markdown file; then the whole path
 *    must exist there. So `images/web/README.md` and, in images/README.md, `runtime/tls.ts`
 *    are checked, while `box/new` (a Maildir folder) or `/etc/serverpark` (a container path)
 *    are not. Placeholders and patterns (`images/<role>/`, `images/*`, `…`, `...`) are not
 *    paths. Neither are paths through generated or ignored folders (GENERATED below), which a
 *    fresh checkout does not have.
 * 3. No file cites outside the repository: in Markdown (links, code spans and text) and in
 *    source comments, a relative path whose `../` steps climb above the repository root is an
 *    error, and so is naming an upper-case Markdown file (such as this project's README.md)
 *    that exists nowhere in the repository. Source code proper is not searched for `../`
 *    (the file servers' tests send `../../etc/passwd` on purpose), and this file is not
 *    searched at all: its examples below are broken citations on purpose.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "..", "..");

/** Folders that are built, installed or written at run time: not part of the repository. */
const GENERATED = new Set(["node_modules", ".git", "dist", "coverage", ".pulumi-state", ".serverpark", "test-artifacts"]);

const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|sh)$/;

const THIS_FILE = relative(ROOT, __filename).split(sep).join("/");

/** Every file of the repository (relative, `/`-separated), generated folders left out. */
function repositoryFiles(dir = ROOT): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (GENERATED.has(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...repositoryFiles(full));
    else if (entry.isFile()) out.push(relative(ROOT, full).split(sep).join("/"));
  }
  return out.sort();
}

const FILES = repositoryFiles();
const MARKDOWN = FILES.filter((f) => f.endsWith(".md"));
const FILE_NAMES = new Set(FILES.map((f) => f.slice(f.lastIndexOf("/") + 1)));

export interface Citation {
  readonly line: number;
  readonly text: string;
  readonly problem: string;
}

const lineOf = (text: string, index: number) => text.slice(0, index).split("\n").length;

/** `text` with fenced code blocks blanked (line numbers kept): trees and shell sessions. */
function withoutFences(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, " "));
}

/** Whether `path` (absolute) lies inside the repository. */
const inside = (path: string) => path === ROOT || path.startsWith(ROOT + sep);

/** Relative paths in `text` whose `../` steps climb out of the repository from `fromDir`. */
function climbsOut(text: string, fromDir: string): { index: number; path: string }[] {
  const out: { index: number; path: string }[] = [];
  for (const m of text.matchAll(/(?<![\w./-])((?:\.\.\/)+[\w.-]*(?:\/[\w.-]+)*)/g)) {
    if (!inside(resolve(fromDir, m[1]!))) out.push({ index: m.index, path: m[1]! });
  }
  return out;
}

/** Upper-case Markdown file names (like README.md) that no file of the repository has. */
function missingMarkdownNames(text: string): { index: number; name: string }[] {
  return [...text.matchAll(/\b[A-Z][A-Z0-9_-]*\.md\b/g)].filter((m) => !FILE_NAMES.has(m[0])).map((m) => ({ index: m.index, name: m[0] }));
}

/** Rules 1–3 for one Markdown file, `file` relative to the repository root. */
export function markdownProblems(file: string, text: string): Citation[] {
  const dir = resolve(ROOT, dirname(file));
  const problems: Citation[] = [];
  const add = (index: number, cited: string, problem: string) => problems.push({ line: lineOf(text, index), text: cited, problem });
  const prose = withoutFences(text);

  for (const m of prose.matchAll(/\[[^\]\n]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
    const path = decodeURIComponent(target.replace(/[#?].*$/, ""));
    const full = path.startsWith("/") ? join(ROOT, path) : resolve(dir, path);
    if (!inside(full)) add(m.index, target, "link leaves the repository");
    else if (!existsSync(full)) add(m.index, target, "link to a path that does not exist");
  }

  for (const m of prose.matchAll(/`([^`\n]+)`/g)) {
    const path = m[1]!.replace(/(:\d+)+$/, "");
    if (!/^[\w.@+-][\w.@+/-]*$/.test(path) || !path.includes("/") || path.includes("...") || path.startsWith("/")) continue;
    const segments = path.split("/").filter((s) => s !== "" && s !== ".");
    if (segments.some((s) => GENERATED.has(s))) continue;
    if (path.startsWith("../")) {
      if (!inside(resolve(dir, path))) add(m.index, path, "path leaves the repository");
      else if (!existsSync(resolve(dir, path))) add(m.index, path, "path does not exist");
      continue;
    }
    const bases = [ROOT, dir].filter((base) => existsSync(join(base, segments[0]!)));
    if (bases.length > 0 && !bases.some((base) => existsSync(join(base, path)))) add(m.index, path, "path does not exist");
  }

  for (const c of climbsOut(text, dir)) add(c.index, c.path, "cites a path outside the repository");
  for (const n of missingMarkdownNames(text)) add(n.index, n.name, "cites a Markdown file this repository does not have");
  return problems.sort((a, b) => a.line - b.line);
}

/** Rule 3 for one source file: only its comments are searched for `../` paths. */
export function sourceProblems(file: string, text: string): Citation[] {
  const dir = resolve(ROOT, dirname(file));
  const problems: Citation[] = [];
  text.split("\n").forEach((line, i) => {
    const comment = /^\s*(\/\/|\/\*|\*|#)/.test(line);
    for (const c of comment ? climbsOut(line, dir) : []) problems.push({ line: i + 1, text: c.path, problem: "cites a path outside the repository" });
    for (const n of missingMarkdownNames(line)) problems.push({ line: i + 1, text: n.name, problem: "cites a Markdown file this repository does not have" });
  });
  return problems;
}

const report = (file: string, problems: Citation[]) => problems.map((p) => `${file}:${p.line}: ${p.problem}: ${p.text}`);

describe("docs cite only what the repository has", () => {
  it("finds the project's Markdown and source files", () => {
    expect(MARKDOWN).toContain("images/README.md");
    expect(MARKDOWN).toContain("bench/README.md");
    expect(FILES).toContain("components/targets/docker/images.ts");
  });

  it("every path cited in Markdown exists, and none leaves the repository", () => {
    const problems = MARKDOWN.flatMap((f) => report(f, markdownProblems(f, readFileSync(join(ROOT, f), "utf8"))));
    expect(problems).toEqual([]);
  });

  it("no source file cites a file outside the repository", () => {
    const sources = FILES.filter((f) => SOURCE.test(f) && f !== THIS_FILE && statSync(join(ROOT, f)).size < 1_000_000);
    expect(sources.length).toBeGreaterThan(100);
    const problems = sources.flatMap((f) => report(f, sourceProblems(f, readFileSync(join(ROOT, f), "utf8"))));
    expect(problems).toEqual([]);
  });
});

describe("the rules themselves", () => {
  const problemsIn = (file: string, text: string) => markdownProblems(file, text).map((p) => `${p.line}: ${p.problem}: ${p.text}`);

  it("accepts existing paths, relative to the root or to the Markdown file, with a line number", () => {
    const text = "See `components/targets/docker/images.ts:40`, `runtime/tls.ts`, [build](build.ts) and [root](/package.json#L1).";
    expect(problemsIn("images/README.md", text)).toEqual([]);
  });

  it("reports a missing path, a missing link target and one that climbs out", () => {
    const text = ["`components/power/missing.ts`", "[x](runtime/missing.ts)", "", "[y](../../../elsewhere/notes.md)"].join("\n");
    expect(problemsIn("images/README.md", text)).toEqual([
      "1: path does not exist: components/power/missing.ts",
      "2: link to a path that does not exist: runtime/missing.ts",
      "4: link leaves the repository: ../../../elsewhere/notes.md",
      "4: cites a path outside the repository: ../../../elsewhere/notes.md",
    ]);
  });

  it("reports a Markdown file the repository does not have, in Markdown and in source comments", () => {
    expect(problemsIn("bench/db/README.md", "as NOTES.md measured")).toEqual(["1: cites a Markdown file this repository does not have: NOTES.md"]);
    const source = "/**\n * see ../../../../../elsewhere/notes.txt\n */\nconst p = '../../../../etc/passwd';\n";
    expect(sourceProblems("images/mail/src/imap/parser.ts", source)).toEqual([
      { line: 2, text: "../../../../../elsewhere/notes.txt", problem: "cites a path outside the repository" },
    ]);
  });

  it("ignores URLs, anchors, placeholders, container paths, generated folders and fenced blocks", () => {
    const text = [
      "[site](https://www.pulumi.com) [top](#quick-start) `contracts/settings/<role>.ts` `images/*/Dockerfile`",
      "`/etc/serverpark/config.json` `box/new` `images/web/dist/main.mjs` `node_modules/ssh2/.../x.node` `a b/c`",
      "```",
      "components/not/there.ts",
      "```",
    ].join("\n");
    expect(problemsIn("README.md", text)).toEqual([]);
  });
});
