/**
 * Confinement: every client path is resolved against the user's own root, never the real
 * file system. `..` cannot climb above `/`, absolute paths are relative to the user's root,
 * NUL bytes are refused, and the server never creates symbolic links, so there is no link
 * to follow out of the tree (opens also use O_NOFOLLOW as a second line of defence).
 */
import { posix } from "node:path";

/** The read-only view of previous versions, at the root of every user's tree. */
export const VERSIONS_DIR = ".versions";
/** Version files are named `@v-<timestamp>-<random>` inside a folder named after the file. */
export const VERSION_PREFIX = "@v-";

export class PathError extends Error {
  constructor(
    message: string,
    /** The SFTP status to answer with. */
    readonly code: "permission" | "no-such-file" | "failure" = "permission",
  ) {
    super(message);
  }
}

/** Normalizes a client path to a canonical absolute virtual path ("/", "/a/b"). */
export function virtualPath(input: string, cwd = "/"): string {
  if (input.includes("\0")) throw new PathError("NUL byte in path");
  if (input.length > 4096) throw new PathError("path too long");
  const joined = input.startsWith("/") ? input : posix.join(cwd, input);
  // posix.normalize keeps leading ".." for relative input only; ours is absolute, so ".."
  // above "/" collapses to "/" — the client cannot name anything outside its root.
  const normal = posix.normalize(`/${joined}`);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/** Parts of a virtual path: whether it is in the versions view, and its path relative to the root. */
export function classify(vpath: string): { versions: boolean; rel: string } {
  const rel = vpath.slice(1);
  if (rel === VERSIONS_DIR || rel.startsWith(`${VERSIONS_DIR}/`)) return { versions: true, rel: rel.slice(VERSIONS_DIR.length + 1) };
  return { versions: false, rel };
}
