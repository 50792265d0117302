/**
 * A PostgreSQL killed with its container leaves `.s.PGSQL.<port>.lock` in the socket directory,
 * which lives in the container's own layer: after `docker start` the PID it names belongs to
 * another process, and PostgreSQL refused to start (seen once in three chaos runs). The
 * supervisors remove such locks before they start any PostgreSQL.
 */
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { removeStaleSocketLocks } from "../../images/db/src/ha/processes";

describe("stale PostgreSQL socket locks", () => {
  it("are removed, with a warning each, and nothing else in the socket directory is touched", () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-pg-sockets-"));
    // What a killed server leaves: its lock naming a PID that is alive again (this process) in the new container.
    writeFileSync(join(dir, ".s.PGSQL.5432.lock"), `${process.pid}\n/var/run/postgresql\n  5432001         0\n`);
    writeFileSync(join(dir, ".s.PGSQL.6432.lock"), "1\n");
    for (const keep of [".s.PGSQL.5432", "pgpass", ".s.PGSQL.5432.lock.bak"]) writeFileSync(join(dir, keep), "");
    const warned: unknown[] = [];
    expect(removeStaleSocketLocks(dir, { warn: (o: unknown) => void warned.push(o) } as never).sort()).toEqual([".s.PGSQL.5432.lock", ".s.PGSQL.6432.lock"]);
    expect(readdirSync(dir).sort()).toEqual([".s.PGSQL.5432", ".s.PGSQL.5432.lock.bak", "pgpass"]);
    expect(warned).toHaveLength(2);
    // A directory that does not exist yet (first start): nothing to do.
    expect(removeStaleSocketLocks(join(dir, "missing"), { warn: () => undefined } as never)).toEqual([]);
  });
});
