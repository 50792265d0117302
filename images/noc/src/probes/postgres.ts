/**
 * PostgreSQL: log in with the NOC's own least-privileged login (components/roles/noc.ts) and
 * run `SELECT 1` with the pg client, over TLS verified against the datacenter CA (the db role
 * refuses logins without TLS). A refused login is DOWN: applications log in the same
 * way, so a server that refuses logins is not serving. The password never enters a detail.
 */
import pg from "pg";
import { verifiedTls, type Probe } from "./types";

export const postgresProbe: Probe = async (target, ctx) => {
  if (!ctx.dbPassword) {
    return { ok: false, reason: "no-credential", detail: "no database login for the probe (SP_DB_PASSWORD_FILE is missing; the noc role hook writes it)" };
  }
  const client = new pg.Client({
    host: target.address,
    port: target.port.port,
    user: ctx.settings.dbUser,
    database: ctx.settings.dbName,
    password: ctx.dbPassword,
    connectionTimeoutMillis: ctx.timeoutMs,
    query_timeout: ctx.timeoutMs,
    // The db role admits network logins over TLS only; the password goes to a verified server only.
    ssl: verifiedTls(ctx),
    application_name: "serverpark-noc",
  });
  client.on("error", () => undefined);
  ctx.signal.addEventListener("abort", () => void client.end().catch(() => undefined), { once: true });
  try {
    await client.connect();
    const result = await client.query<{ one: number }>("SELECT 1 AS one");
    if (result.rows[0]?.one !== 1) return { ok: false, degraded: true, detail: `SELECT 1 returned ${JSON.stringify(result.rows[0])}` };
    return { ok: true, detail: `SELECT 1 = 1 as ${ctx.settings.dbUser}@${ctx.settings.dbName}` };
  } catch (error) {
    const code = (error as { code?: string }).code;
    // SQLSTATE class 28 (invalid authorization), or 42501 / 3D000 at connect: the login was refused.
    if (code?.startsWith("28") || code === "42501" || code === "3D000") {
      const message = (error as Error).message.replaceAll(ctx.dbPassword, "<password>").slice(0, 120);
      return { ok: false, reason: "login-refused", detail: `login refused as ${ctx.settings.dbUser}@${ctx.settings.dbName} (SQLSTATE ${code}: ${message})` };
    }
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
};

/**
 * An HA db group's pg_auto_failover monitor keeps no login for the NOC (it holds the group's
 * state, not the application's data): the same TLS login attempt, where the server refusing
 * it is the answer that shows it up. Refused connections, TLS failures and a server still
 * starting up (SQLSTATE 57P03) stay down.
 */
export const monitorProbe: Probe = async (target, ctx) => {
  const result = await postgresProbe(target, ctx);
  if (!result.ok && result.reason === "login-refused")
    return { ok: true, detail: `answers over TLS and refused the NOC's login, as a monitor should (${result.detail.replace(/^login refused as /, "")})` };
  return result;
};
