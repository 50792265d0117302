/** Process helpers for the HA supervisor (Linux): signals that tolerate gone processes, a process tree from /proc. */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../../runtime/log";

/** kill(2) that ignores a process (or group) already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // exited already
  }
}

/** Every process below `pid`, from /proc (Linux). */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * Removes PostgreSQL's socket lock files (`.s.PGSQL.<port>.lock`) left in `dir` by a server
 * that was killed: the directory is in the container's own layer, so it survives
 * `docker kill` + `docker start`, and the PID the lock names is reused by another process
 * in the new container, which makes PostgreSQL refuse to start ("Is another postmaster
 * using socket file?"). Call only before this container has started any PostgreSQL.
 * Says so in the log; returns the files removed.
 */
export function removeStaleSocketLocks(dir: string, log: Pick<Logger, "warn">): string[] {
  if (!existsSync(dir)) return [];
  const stale = readdirSync(dir).filter((f) => /^\.s\.PGSQL\.\d+\.lock$/.test(f));
  for (const f of stale) {
    rmSync(join(dir, f), { force: true });
    log.warn({ file: join(dir, f) }, "removed a stale PostgreSQL socket lock (a killed server's)");
  }
  return stale;
}
