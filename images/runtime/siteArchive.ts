/**
 * A customer's site as one archive (contracts/sites.ts): the file role packs a published copy,
 * a web replica unpacks what it pulled. The format is POSIX ustar, so GNU tar and bsdtar read
 * and write it, but only its plainest part: regular files and folders. Packing leaves out
 * anything else (the web server would refuse a symlink leaving the site anyway); unpacking
 * refuses the whole archive at the first member that is not a plain file or folder (symlinks,
 * hard links, devices, fifos, pax and GNU extension headers), whose path is absolute, has a
 * `.`/`..`/empty segment, a backslash or NUL, that comes twice, or that passes the bounds on
 * bytes and members. Files are created exclusively (`wx`) inside a folder that only this
 * unpacking writes to, so no member can land outside it. Memory stays at one 64 KiB buffer.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readdir, rm, lstat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";

const BLOCK = 512;
const CHUNK = 64 * 1024;

export class SiteArchiveError extends Error {}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header(path: string, type: "0" | "5", size: number, mode: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const bytes = Buffer.from(path, "utf8");
  let name = bytes;
  let prefix = Buffer.alloc(0);
  if (bytes.length > 100) {
    // Split at a slash: prefix (at most 155 bytes) / name (at most 100).
    let cut = -1;
    for (let i = bytes.length - 1; i >= 0; i--) if (bytes[i] === 0x2f && i <= 155 && bytes.length - i - 1 <= 100) cut = i;
    if (cut <= 0) throw new SiteArchiveError(`path too long for ustar: ${path}`);
    prefix = bytes.subarray(0, cut);
    name = bytes.subarray(cut + 1);
  }
  name.copy(block, 0);
  block.write(octal(mode, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii");
  block.write(octal(0, 8), 116, "ascii");
  block.write(octal(size, 12), 124, "ascii");
  // Time 0: the same content always packs to the same bytes, so its version does not change on a republish.
  block.write(octal(0, 12), 136, "ascii");
  block.write("        ", 148, "ascii");
  block.write(type, 156, "ascii");
  block.write("ustar\0" + "00", 257, "ascii");
  prefix.copy(block, 345);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(octal(sum, 7) + " ", 148, "ascii");
  return block;
}

/**
 * Packs the regular files and folders under `dir` into `dest` (created exclusively), in name
 * order; returns the archive's SHA-256 (hex), its size and the paths left out.
 */
export async function packSite(dir: string, dest: string): Promise<{ sha256: string; bytes: number; skipped: string[] }> {
  const out = await open(dest, "wx", 0o600);
  const hash = createHash("sha256");
  let bytes = 0;
  const skipped: string[] = [];
  // Small writes (headers, padding, small files) gather in one buffer of at most 1 MiB.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await out.write(data);
  };
  const write = async (data: Buffer) => {
    hash.update(data);
    bytes += data.length;
    pending.push(data);
    pendingBytes += data.length;
    if (pendingBytes >= 1024 * 1024) await flush();
  };
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const info = await lstat(join(dir, path));
      try {
        if (info.isDirectory()) {
          await write(header(`${path}/`, "5", 0, 0o755));
          await walk(path);
        } else if (info.isFile()) {
          await write(header(path, "0", info.size, 0o644));
          await copyInto(join(dir, path), info.size, write);
        } else skipped.push(path);
      } catch (error) {
        if (!(error instanceof SiteArchiveError)) throw error;
        skipped.push(path);
      }
    }
  };
  try {
    await walk("");
    await write(Buffer.alloc(2 * BLOCK));
    await flush();
    await out.sync();
  } finally {
    await out.close();
  }
  return { sha256: hash.digest("hex"), bytes, skipped };
}

/** Copies exactly `size` bytes of `path` (a published, unchanging copy) and the padding to a block. */
async function copyInto(path: string, size: number, write: (data: Buffer) => Promise<void>): Promise<void> {
  const input = await open(path, "r");
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.alloc(Math.min(CHUNK, left));
      const { bytesRead } = await input.read(buf, 0, buf.length);
      if (bytesRead === 0) throw new Error(`${path} shrank while being packed`);
      await write(buf.subarray(0, bytesRead));
      left -= bytesRead;
    }
  } finally {
    await input.close();
  }
  const pad = (BLOCK - (size % BLOCK)) % BLOCK;
  if (pad > 0) await write(Buffer.alloc(pad));
}

function field(block: Buffer, at: number, length: number): string {
  const raw = block.subarray(at, at + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString("utf8");
}

function number(block: Buffer, at: number, length: number, what: string): number {
  const text = field(block, at, length).trim();
  if (!/^[0-7]{1,12}$/.test(text)) throw new SiteArchiveError(`bad ${what} field`);
  return parseInt(text, 8);
}

/** A member's path, checked: relative, plain segments only. */
function memberPath(block: Buffer): string {
  const name = field(block, 0, 100);
  const prefix = field(block, 345, 155);
  const path = prefix ? `${prefix}/${name}` : name;
  const trimmed = path.endsWith("/") ? path.slice(0, -1) : path;
  if (trimmed === "" || trimmed.startsWith("/") || /[\\\0]/.test(trimmed)) throw new SiteArchiveError(`member path refused: ${JSON.stringify(path)}`);
  for (const segment of trimmed.split("/"))
    if (segment === "" || segment === "." || segment === "..") throw new SiteArchiveError(`member path refused: ${JSON.stringify(path)}`);
  return trimmed;
}

export interface UnpackLimits {
  /** Bytes of file content, at most. */
  readonly maxBytes: number;
  /** Members, at most. */
  readonly maxEntries: number;
}

/**
 * Unpacks `archive` into `dest`, which must not exist yet (it is created, and removed again
 * when the archive is refused). Throws SiteArchiveError for a refused archive.
 */
export async function unpackSite(archive: string, dest: string, limits: UnpackLimits): Promise<{ files: number; bytes: number }> {
  await mkdir(dest, { recursive: false, mode: 0o755 });
  const input = await open(archive, "r");
  try {
    return await unpackMembers(input, dest, limits);
  } catch (error) {
    await rm(dest, { recursive: true, force: true });
    throw error;
  } finally {
    await input.close();
  }
}

async function unpackMembers(input: FileHandle, dest: string, limits: UnpackLimits): Promise<{ files: number; bytes: number }> {
  const block = Buffer.alloc(BLOCK);
  let position = 0;
  let files = 0;
  let entries = 0;
  let total = 0;
  const seen = new Set<string>();
  const made = new Set<string>();
  const folder = async (path: string) => {
    if (made.has(path)) return;
    await mkdir(join(dest, path), { recursive: true, mode: 0o755 });
    made.add(path);
  };
  for (;;) {
    const { bytesRead } = await input.read(block, 0, BLOCK, position);
    if (bytesRead !== BLOCK) throw new SiteArchiveError("archive ends inside a header (no end-of-archive block)");
    position += BLOCK;
    if (block.every((b) => b === 0)) return { files, bytes: total };
    if (field(block, 257, 6) !== "ustar") throw new SiteArchiveError("not a ustar archive");
    const stored = number(block, 148, 8, "checksum");
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (sum !== stored) throw new SiteArchiveError("header checksum mismatch");
    if (++entries > limits.maxEntries) throw new SiteArchiveError(`more than ${limits.maxEntries} members`);
    const type = String.fromCharCode(block[156]!);
    const path = memberPath(block);
    if (seen.has(path)) throw new SiteArchiveError(`member twice: ${path}`);
    seen.add(path);
    const size = number(block, 124, 12, "size");
    if (type === "5") {
      if (size !== 0) throw new SiteArchiveError(`folder with content: ${path}`);
      await folder(path);
      continue;
    }
    if (type !== "0" && type !== "\0") throw new SiteArchiveError(`member type ${JSON.stringify(type)} refused (only files and folders): ${path}`);
    total += size;
    if (total > limits.maxBytes) throw new SiteArchiveError(`content larger than ${limits.maxBytes} bytes`);
    const slash = path.lastIndexOf("/");
    if (slash > 0) await folder(path.slice(0, slash));
    const out = await open(join(dest, path), "wx", 0o644);
    try {
      let left = size;
      const buf = Buffer.alloc(Math.min(CHUNK, Math.max(size, 1)));
      while (left > 0) {
        const { bytesRead: got } = await input.read(buf, 0, Math.min(buf.length, left), position);
        if (got === 0) throw new SiteArchiveError(`archive ends inside ${path}`);
        await out.write(buf.subarray(0, got));
        position += got;
        left -= got;
      }
    } finally {
      await out.close();
    }
    position += (BLOCK - (size % BLOCK)) % BLOCK;
    files++;
  }
}
