/** PostgreSQL: `SELECT 1` with the pg client. A server that refuses the login still answered in its protocol. */
import pg from "pg";
import type { Probe } from "./types";

export const postgresProbe: Probe = async (target, ctx) => {
  const client = new pg.Client({
    host: target.address,
    port: target.port.port,
    user: ctx.settings.dbUser,
    database: ctx.settings.dbName,
    // Without a probe credential a placeholder is sent: pg refuses to start SCRAM with no
    // password, and the server's "authentication failed" answer is what proves it alive.
    password: ctx.dbPassword ?? "noc-probe-has-no-credential",
    connectionTimeoutMillis: ctx.timeoutMs,
    query_timeout: ctx.timeoutMs,
    ssl: false,
  });
  client.on("error", () => undefined);
  ctx.signal.addEventListener("abort", () => void client.end().catch(() => undefined), { once: true });
  try {
    await client.connect();
    const result = await client.query<{ one: number }>("SELECT 1 AS one");
    if (result.rows[0]?.one !== 1) return { ok: false, degraded: true, detail: `SELECT 1 returned ${JSON.stringify(result.rows[0])}` };
    return { ok: true, detail: "SELECT 1 = 1" };
  } catch (error) {
    const code = (error as { code?: string }).code;
    // SQLSTATE class 28 (invalid authorization): a PostgreSQL server is there and answering.
    if (code?.startsWith("28")) return { ok: true, detail: `server answered; login refused (SQLSTATE ${code})` };
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
};
