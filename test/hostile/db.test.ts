/**
 * Hostile clients against the db role (real PostgreSQL 15 under our supervisor), with psql
 * and openssl: a login without TLS is refused, the superuser cannot log in over the network
 * even with its real password, TLS below 1.2 is refused, and the application role over
 * verified TLS keeps working throughout.
 */
import { describe, expect, it } from "vitest";
import { havePostgres, psql, runningTestDb } from "../db/support";
import { opensslHandshake } from "./support";

const PORT = 47391;
const enabled = havePostgres();

describe.skipIf(!enabled)("db role against hostile clients", () => {
  const db = runningTestDb(PORT);

  it("refuses a login without TLS, even with the right password", async () => {
    await expect(psql(PORT, "SELECT 1", undefined, "app", "app", "disable")).rejects.toThrow(/no encryption/);
    expect(await psql(PORT, "SELECT current_user")).toBe("app");
  });

  it("refuses the superuser over the network, even over TLS with its real password", async () => {
    const password = db.app().postgres.superuserPassword();
    await expect(psql(PORT, "SELECT 1", password, "postgres", "postgres")).rejects.toThrow(/pg_hba\.conf rejects connection .*user "postgres"/);
    await expect(psql(PORT, "SELECT 1", password, "postgres", "postgres", "disable")).rejects.toThrow(/pg_hba\.conf/);
    // The application role is no superuser either (what an app password could do if stolen).
    expect(await psql(PORT, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).toBe("f");
  });

  it("refuses TLS 1.1 and accepts TLS 1.2 (openssl s_client)", async () => {
    const old = await opensslHandshake(PORT, "-tls1_1", ["-starttls", "postgres"]);
    expect(old.ok, old.output).toBe(false);
    expect(old.output).toMatch(/alert protocol version|no protocols available|unsupported protocol|wrong version/i);
    const modern = await opensslHandshake(PORT, "-tls1_2", ["-starttls", "postgres"]);
    expect(modern.protocol, modern.output).toBe("TLSv1.2");
  });
});
