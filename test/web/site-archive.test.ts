/**
 * The site archive (images/runtime/siteArchive.ts) against GNU tar, the real client: what the
 * file role packs, tar lists and extracts; what tar packs (plain files and folders), the web
 * role unpacks. Hostile archives made with tar (symlinks, hard links, fifos, `..` and absolute
 * paths, a member twice) and by hand (a device, a bad checksum, a cut-off archive) are refused
 * whole: nothing is left in the destination and nothing lands beside it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packSite, unpackSite } from "../../images/runtime/siteArchive";
import { haveTools } from "../file/support";

const enabled = haveTools("tar", "mkfifo");
const LIMITS = { maxBytes: 1024 * 1024, maxEntries: 100 };
const tar = (cwd: string, ...args: string[]) => execFileSync("tar", args, { cwd, encoding: "utf8" });

function site(root: string): string {
  const dir = join(root, "site");
  mkdirSync(join(dir, "css/deep"), { recursive: true });
  writeFileSync(join(dir, "index.html"), "<h1>hello</h1>\n");
  writeFileSync(join(dir, "css/deep/a.css"), "body{}\n".repeat(300));
  writeFileSync(join(dir, `${"n".repeat(90)}.html`), "long name\n");
  mkdirSync(join(dir, "x".repeat(80), "y".repeat(80)), { recursive: true });
  writeFileSync(join(dir, "x".repeat(80), "y".repeat(80), "z.txt"), "deep\n");
  return dir;
}

/** Unpacks into a fresh folder and expects a refusal; nothing may remain or escape. */
async function refused(work: string, archive: string, why: RegExp, limits = LIMITS): Promise<void> {
  const before = readdirSync(work).sort();
  const dest = join(work, "out");
  await expect(unpackSite(archive, dest, limits)).rejects.toThrow(why);
  expect(existsSync(dest)).toBe(false);
  expect(readdirSync(work).sort()).toEqual(before);
}

describe.skipIf(!enabled)("site archives", () => {
  it("GNU tar reads what the file role packs, and the web role unpacks it to the same files", async () => {
    const work = mkdtempSync(join(tmpdir(), "sp-archive-"));
    const dir = site(work);
    const packed = await packSite(dir, join(work, "site.tar"));
    expect(packed.skipped).toEqual([]);
    const listed = tar(work, "-tf", "site.tar").trim().split("\n");
    expect(listed).toContain("index.html");
    expect(listed).toContain(`${"x".repeat(80)}/${"y".repeat(80)}/z.txt`);
    mkdirSync(join(work, "by-tar"));
    tar(join(work, "by-tar"), "-xf", "../site.tar");
    expect(readFileSync(join(work, "by-tar/css/deep/a.css"), "utf8")).toBe("body{}\n".repeat(300));
    const result = await unpackSite(join(work, "site.tar"), join(work, "ours"), LIMITS);
    expect(result.files).toBe(4);
    expect(readFileSync(join(work, "ours/index.html"), "utf8")).toBe("<h1>hello</h1>\n");
    expect(readFileSync(join(work, "ours", "x".repeat(80), "y".repeat(80), "z.txt"), "utf8")).toBe("deep\n");
    // The same content packs to the same bytes: a republished site keeps its version.
    expect((await packSite(dir, join(work, "again.tar"))).sha256).toBe(packed.sha256);
  });

  it("leaves out what is not a plain file or folder when packing", async () => {
    const work = mkdtempSync(join(tmpdir(), "sp-archive-"));
    const dir = site(work);
    symlinkSync("/etc/passwd", join(dir, "passwd"));
    const packed = await packSite(dir, join(work, "site.tar"));
    expect(packed.skipped).toEqual(["passwd"]);
    expect(tar(work, "-tf", "site.tar")).not.toContain("passwd");
  });

  it("unpacks an archive GNU tar made of plain files and folders", async () => {
    const work = mkdtempSync(join(tmpdir(), "sp-archive-"));
    site(work);
    tar(join(work, "site"), "--format=ustar", "-cf", "../by-tar.tar", ".");
    // `./` prefixes are a `.` segment: refused. Without them it unpacks.
    await refused(work, join(work, "by-tar.tar"), /member path refused/);
    tar(join(work, "site"), "--format=ustar", "-cf", "../plain.tar", "index.html", "css");
    expect((await unpackSite(join(work, "plain.tar"), join(work, "ok"), LIMITS)).files).toBe(2);
    expect(readFileSync(join(work, "ok/css/deep/a.css"), "utf8")).toBe("body{}\n".repeat(300));
  });

  it("refuses symlinks, hard links, fifos, devices, .. and absolute paths, duplicates, bad checksums, cut-off archives", async () => {
    const work = mkdtempSync(join(tmpdir(), "sp-archive-"));
    const src = join(work, "src");
    mkdirSync(src);
    writeFileSync(join(src, "a.html"), "a\n");
    symlinkSync("/etc/passwd", join(src, "link"));
    linkSync(join(src, "a.html"), join(src, "hard.html"));
    execFileSync("mkfifo", [join(src, "pipe")]);
    const make = (name: string, ...args: string[]) => {
      tar(src, "--format=ustar", "-cf", join(work, name), ...args);
      return join(work, name);
    };
    await refused(work, make("symlink.tar", "a.html", "link"), /type "2" refused/);
    await refused(work, make("hardlink.tar", "a.html", "hard.html"), /type "1" refused/);
    await refused(work, make("fifo.tar", "pipe"), /type "6" refused/);
    await refused(work, make("dotdot.tar", "-P", "--transform", "s,^,../,", "a.html"), /member path refused/);
    await refused(work, make("absolute.tar", "-P", join(src, "a.html")), /member path refused/);
    await refused(work, make("twice.tar", "a.html", "a.html"), /member twice/);
    await refused(work, make("big.tar", "a.html"), /larger than 1 bytes/, { maxBytes: 1, maxEntries: 10 });
    await refused(work, make("many.tar", "a.html", "hard.html"), /more than 1 members/, { maxBytes: 100, maxEntries: 1 });

    // A character device, by hand: the file's header with type "3" and its checksum redone.
    const device = Buffer.from(readFileSync(make("device.tar", "a.html")));
    device.write("3", 156, "ascii");
    device.write("        ", 148, "ascii");
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += device[i]!;
    device.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
    writeFileSync(join(work, "device.tar"), device);
    await refused(work, join(work, "device.tar"), /type "3" refused/);

    const corrupt = Buffer.from(readFileSync(make("corrupt.tar", "a.html")));
    corrupt.write("b", 0, "ascii");
    writeFileSync(join(work, "corrupt.tar"), corrupt);
    await refused(work, join(work, "corrupt.tar"), /checksum/);
    writeFileSync(join(work, "cut.tar"), readFileSync(make("cut.tar", "a.html")).subarray(0, 513));
    await refused(work, join(work, "cut.tar"), /archive ends inside a.html/);
    expect(existsSync(join(work, "..", "a.html"))).toBe(false);
  });
});
