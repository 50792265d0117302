/**
 * Role views as files (contracts/runtimeConfig.ts `view`): a view is serialised once per
 * distinct object, named by the SHA-256 of its bytes and written once into a folder on the
 * machine that runs the program. Targets deliver the file by its path and hash (Docker: an
 * upload read from `source`), so a view never sits in a resource's inputs: a 1,000-host
 * datacenter's NOC view (~500 KB) or zones (~800 KB), shared by many replicas, costs the
 * program one write instead of a copy in every container's inputs.
 *
 * The folder is `$SERVERPARK_VIEW_DIR`, else `.serverpark/views/` in the directory the program
 * runs in (the Pulumi project's). Files are written atomically (a temporary name, then a
 * rename), so two programs writing the same view at once cannot leave half a file. Old views
 * are not deleted: a view is small next to an image, and a file the engine has not read yet
 * must not disappear under it.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RoleView } from "../../contracts/runtimeConfig";

export interface StoredView {
  /** Absolute path of the file on the machine running the program. */
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** Where view files go (see the module comment). */
export function viewDir(): string {
  return resolve(process.env.SERVERPARK_VIEW_DIR ?? join(".serverpark", "views"));
}

const stored = new WeakMap<object, StoredView>();

/**
 * The file holding `view`. `key` is the object the view was built from (the service's routes,
 * NOC view or zones, each computed once and shared): the same key is serialised and hashed once.
 */
export function storeView(view: RoleView, key: object): StoredView {
  const known = stored.get(key);
  if (known) return known;
  const text = JSON.stringify(view);
  const sha256 = createHash("sha256").update(text).digest("hex");
  const dir = viewDir();
  const path = join(dir, `${sha256}.json`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  }
  const result: StoredView = { path, sha256, bytes: Buffer.byteLength(text) };
  stored.set(key, result);
  return result;
}
