/**
 * The file role's quota accounting (images/file/src/tree.ts) against the disk, sampled between
 * every I/O step: what the tree counts (live + versions + reservations) must never be less
 * than what its folders hold, or another upload could be granted bytes that are still on disk.
 * The window this guards was real: a commit gave its reservation back before its file counted
 * as live, and three parallel uploads of 45,000 bytes held 135,000 bytes under a 100,000-byte quota.
 */
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserTree, type Upload } from "../../images/file/src/tree";

const QUOTA = 100_000;
const VERSIONS = { keep: 5, maxAgeDays: 30 };

/**
 * Bytes in the files under `dir`, each inode once: the walk is not atomic, and a file renamed
 * from a folder already walked into one not yet walked (live -> versions) would otherwise be
 * counted twice and look like bytes the tree forgot.
 */
function diskUse(dir: string, seen = new Set<number>()): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += diskUse(path, seen);
    else if (entry.isFile()) {
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat && !seen.has(stat.ino)) {
        seen.add(stat.ino);
        total += stat.size;
      }
    }
  }
  return total;
}

async function write(tree: UserTree, upload: Upload, bytes: number): Promise<boolean> {
  if (!(await tree.reserve(upload, bytes))) return false;
  await upload.handle.write(Buffer.alloc(bytes, 7), 0, bytes, 0);
  return true;
}

/** Runs `work` while sampling, after every turn of the event loop, how far the disk is ahead of the tree's count. */
async function worstShortfall(tree: UserTree, work: Promise<unknown>): Promise<number> {
  let worst = 0;
  let done = false;
  void work.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    worst = Math.max(worst, diskUse(tree.root) - tree.total);
    await new Promise((r) => setImmediate(r));
  }
  await work.catch(() => undefined);
  return Math.max(worst, diskUse(tree.root) - tree.total);
}

describe("file quota: the tree never counts less than its folders hold", () => {
  it("while uploads commit, abort and replace files, and a third upload asks for the bytes", async () => {
    const tree = await UserTree.open("tiny", mkdtempSync(join(tmpdir(), "sp-tree-quota-")), QUOTA, VERSIONS);
    const a = await tree.beginUpload("a.bin", false);
    const b = await tree.beginUpload("b.bin", false);
    expect(await write(tree, a, 45_000)).toBe(true);
    expect(await write(tree, b, 45_000)).toBe(true);

    // A third upload keeps asking for 45,000 bytes while the first commits: it must not get
    // them while both other uploads' bytes are on disk.
    const c = await tree.beginUpload("c.bin", false);
    let granted = false;
    let settled = false;
    const commit = tree.commit(a).finally(() => (settled = true));
    const asking = (async () => {
      while (!settled && !granted) {
        granted = await tree.reserve(c, 45_000);
        await new Promise((r) => setImmediate(r));
      }
    })();
    expect(await worstShortfall(tree, commit)).toBe(0);
    await asking;
    expect(granted).toBe(false);
    expect(tree.used).toBe(45_000);

    // Aborting frees the bytes only once the temporary file is gone.
    expect(await worstShortfall(tree, tree.abort(b))).toBe(0);
    expect(tree.total).toBe(45_000 + c.size);
    expect(await write(tree, c, 45_000)).toBe(true);
    expect(await worstShortfall(tree, tree.commit(c))).toBe(0);

    // Replacing a file: the old content becomes a version, evicted when the new one needs the room.
    const again = await tree.beginUpload("a.bin", false);
    expect(await write(tree, again, 10_000)).toBe(true);
    expect(await worstShortfall(tree, tree.commit(again))).toBe(0);
    expect(tree.total).toBe(diskUse(tree.root));
    expect(tree.total).toBeLessThanOrEqual(QUOTA);
  });
});
