/** The HA supervisor's password file (images/db/src/ha/config.ts pgpass): libpq's format, and no line the member has no password for. */
import { describe, expect, it } from "vitest";
import { MONITOR_DATABASE, MONITOR_USER, pgpass, REPLICATION_USER } from "../../images/db/src/ha/config";

describe("the HA members' password file", () => {
  it("a data node: both logins, with libpq's escapes for ':' and '\\'", () => {
    expect(pgpass({ monitor: "m:on\\itor-password-1", replication: "replication-password-1" }).split("\n")).toEqual([
      `*:*:${MONITOR_DATABASE}:${MONITOR_USER}:m\\:on\\\\itor-password-1`,
      `*:*:*:${REPLICATION_USER}:replication-password-1`,
      "",
    ]);
  });

  it("the monitor (no replication password): its own login only, not an empty password line", () => {
    const text = pgpass({ monitor: "monitor-password-1", replication: "" });
    expect(text).toBe(`*:*:${MONITOR_DATABASE}:${MONITOR_USER}:monitor-password-1\n`);
    expect(text).not.toContain(REPLICATION_USER);
  });
});
