/**
 * What `serverpark lab` keeps between runs, per stack, in `.serverpark/lab/` under the
 * project root (git-ignored): `<stack>.json` — the objects `up` made, the endpoints and the
 * generated passwords, keys and certificates (mode 0600 in a 0700 folder: it holds secrets,
 * as Pulumi's own state does) — and `<stack>.lock`, held while an `up` or `down` runs so
 * two never touch one stack at once.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { OwnedObject } from "./applier";
import type { OutputStoreState } from "./outputs";

export const STATE_VERSION = 1;

export interface LabState {
  readonly version: typeof STATE_VERSION;
  readonly stack: string;
  /** The stack file `up` deployed, relative to the project root. */
  readonly file: string;
  readonly datacenter: string;
  readonly domain: string;
  /** ISO time of the last successful `up`. */
  readonly deployedAt: string;
  readonly objects: readonly OwnedObject[];
  /** `replica/port` → `address:port`, as the stack's `endpoints` output. */
  readonly endpoints: Readonly<Record<string, string>>;
  readonly outputs: OutputStoreState;
}

export function labDir(root: string): string {
  return join(root, ".serverpark", "lab");
}

export function statePath(root: string, stack: string): string {
  return join(labDir(root), `${stack}.json`);
}

export function readState(root: string, stack: string): LabState | undefined {
  const path = statePath(root, stack);
  if (!existsSync(path)) return undefined;
  let state: LabState;
  try {
    state = JSON.parse(readFileSync(path, "utf8")) as LabState;
  } catch (e) {
    throw new Error(`${path} is not valid JSON (${(e as Error).message}); remove it and run \`serverpark lab down ${stack}\` to clean up by labels`);
  }
  if (state.version !== STATE_VERSION) throw new Error(`${path} has state version ${String(state.version)}; this serverpark reads version ${STATE_VERSION}`);
  return state;
}

/** Written to a temporary file and renamed, so a crash never leaves half a state. */
export function writeState(root: string, state: LabState): void {
  const dir = labDir(root);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = statePath(root, state.stack);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export function removeState(root: string, stack: string): void {
  rmSync(statePath(root, stack), { force: true });
  // The operator's certificate and key for the stack (lab/lab.ts writeOperatorCredentials).
  rmSync(join(labDir(root), `${stack}-operator`), { recursive: true, force: true });
}

export class StackBusyError extends Error {}

/**
 * Takes the stack's lock (a file created exclusively, holding the pid); a lock whose
 * process is gone is taken over. Returns the release function.
 */
export function lockStack(root: string, stack: string): () => void {
  const dir = labDir(root);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${stack}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(path, "utf8").trim());
      if (processAlive(pid)) throw new StackBusyError(`another serverpark lab command (pid ${pid}) is working on stack "${stack}"; wait for it to finish`);
      rmSync(path, { force: true }); // its process is gone: a stale lock
    }
  }
  throw new StackBusyError(`could not take the lock ${path}`);
}

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
