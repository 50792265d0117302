/**
 * The few file-system moves that make storage crash-safe: data is written to a temporary
 * name, fsynced, then renamed into place (rename is atomic on one file system), and the
 * directory is fsynced so the new name itself survives a power cut. A reader therefore sees
 * either nothing or the complete file, never a half-written one.
 */
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { basename, dirname, join } from "node:path";

/** fsync a directory so renames and unlinks inside it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to a new file and fsyncs it; the file is created exclusively. */
export async function writeSynced(path: string, data: Buffer | string, mode = 0o600): Promise<void> {
  const handle = await open(path, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `path` atomically and durably with `data` (temp file in the same folder). */
export async function replaceFileDurably(path: string, data: Buffer | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
  try {
    await writeSynced(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dirname(path));
}

/**
 * Creates `dir` and its missing parents, and fsyncs the parent of every folder it created,
 * so the new names survive a power cut (a folder's entry lives in its parent).
 */
export async function mkdirDurably(dir: string, mode = 0o700): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode });
  if (first === undefined) return;
  const parents: string[] = [];
  for (let created = dir; ; created = dirname(created)) {
    parents.push(dirname(created));
    if (created === first) break;
  }
  for (const parent of parents.reverse()) await fsyncDir(parent);
}
