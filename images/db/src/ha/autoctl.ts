/**
 * Running pg_auto_failover's `pg_autoctl` for one HA member: its environment (configuration and
 * state under the member's volume, passwords in a private password file), its output relayed to
 * our log, one-shot commands with a timeout that kills everything they started, and the
 * long-running `pg_autoctl run` in a process group of its own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Logger } from "../../../runtime/log";
import { descendants, signal } from "./processes";

export interface AutoctlOptions {
  /** The pg_autoctl program. */
  readonly path: string;
  /** PostgreSQL's programs, first on PATH. */
  readonly binDir: string;
  /** The member's volume: pg_autoctl's configuration and state live below it. */
  readonly dataDir: string;
  /** Private scratch folder: pg_autoctl's runtime files and the password file. */
  readonly runDir: string;
  /** The member's name, on every relayed line. */
  readonly name: string;
  readonly log: Logger;
  /** When this process is root (tests), pg_autoctl runs as this user. */
  readonly runAs?: { readonly uid: number; readonly gid: number };
}

export class Autoctl {
  constructor(private readonly options: AutoctlOptions) {}

  /** pg_autoctl finds its configuration and state through the XDG folders; passwords through PGPASSFILE. */
  env(): NodeJS.ProcessEnv {
    const { dataDir, runDir, binDir } = this.options;
    return {
      PATH: `${binDir}:/usr/bin:/bin`,
      HOME: join(dataDir, "autoctl"),
      XDG_CONFIG_HOME: join(dataDir, "autoctl", "config"),
      XDG_DATA_HOME: join(dataDir, "autoctl", "share"),
      XDG_RUNTIME_DIR: join(runDir, "autoctl"),
      PGPASSFILE: join(runDir, "pgpass"),
      TZ: "UTC",
      LANG: "C.UTF-8",
    };
  }

  spawnOptions(): { env: NodeJS.ProcessEnv; uid?: number; gid?: number } {
    const { runAs } = this.options;
    return { env: this.env(), ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) };
  }

  /** Relays pg_autoctl's lines to our log; returns the last few (for error messages). */
  private relay(child: ChildProcess): string[] {
    const tail: string[] = [];
    const relay = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
        this.options.log.info({ source: "pg_autoctl", node: this.options.name }, line.slice(0, 2000));
        tail.push(line.slice(0, 300));
        if (tail.length > 5) tail.shift();
      }
    };
    child.stdout?.on("data", relay);
    child.stderr?.on("data", relay);
    return tail;
  }

  /** Starts pg_autoctl in a process group of its own (a kill of the group reaches what it started), its output relayed. */
  spawn(args: readonly string[]): { child: ChildProcess; tail: string[] } {
    const child = spawn(this.options.path, args, { ...this.spawnOptions(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
    return { child, tail: this.relay(child) };
  }

  /** Runs one pg_autoctl command to its end; rejects with its exit code and last lines. */
  async once(args: readonly string[], timeoutMs: number): Promise<void> {
    const { child, tail } = this.spawn(args);
    const code = await new Promise<number | null>((resolve, reject) => {
      // A timeout kills what it started too (PostgreSQL, pg_basebackup).
      const timer = setTimeout(() => {
        for (const pid of [child.pid!, ...descendants(child.pid!)]) signal(pid, "SIGKILL");
        signal(-child.pid!, "SIGKILL");
      }, timeoutMs);
      child.once("error", reject);
      child.once("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    if (code !== 0) throw new Error(`pg_autoctl ${args.slice(0, 2).join(" ")} exited with ${code}: ${tail.join(" | ")}`);
  }
}
