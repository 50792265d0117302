/**
 * Brings the cluster to what the settings declare, at every start: the application role
 * exists with the password from the credentials file (so a rotated secret applies on the
 * next restart) and every declared database exists, owned by that role. Nothing is dropped.
 *
 * With a monitoring login (the NOC's, see ../settings.ts dbProbeLoginSchema) its role is made
 * least-privileged: LOGIN and nothing else (no superuser, createdb, createrole, replication,
 * RLS bypass, inheritance or memberships), read-only sessions, a small connection limit, and
 * CONNECT on its one database only — PUBLIC's default CONNECT is revoked from every other
 * database that accepts connections (their owners keep theirs; the superuser is unaffected).
 */
import pg from "pg";
import type { DbProbeLogin, DbSettings } from "../settings";
import type { Postgres } from "./postgres";

/** Enough for a probe every few seconds plus one straggler. */
const PROBE_CONNECTION_LIMIT = 3;

/**
 * @returns problems with the monitoring login, which is then left out: a mistake in the NOC's
 * settings must not keep the database from serving its applications (the NOC shows the
 * refused login instead).
 */
export async function provision(postgres: Postgres, settings: DbSettings, password: string, probeLogin?: DbProbeLogin): Promise<string[]> {
  const client = new pg.Client({
    host: postgres.options.socketDir,
    port: postgres.options.port,
    user: "postgres",
    password: postgres.superuserPassword(),
    database: "postgres",
  });
  await client.connect();
  try {
    // A failing statement is logged with its text by default (log_min_error_statement = error):
    // this session's statements carry passwords and verifiers, so none of them is ever logged.
    await client.query("SET log_min_error_statement = panic");
    const role = client.escapeIdentifier(settings.user);
    const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [settings.user]);
    // DDL cannot take bind parameters; escapeLiteral quotes the password safely.
    const verb = exists.rowCount ? "ALTER" : "CREATE";
    await client.query(`${verb} ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEROLE PASSWORD ${client.escapeLiteral(password)}`);
    for (const db of settings.databases) {
      const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [db]);
      if (!found.rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(db)} OWNER ${role}`);
    }
    return probeLogin ? await provisionProbeLogin(client, settings, probeLogin) : [];
  } finally {
    await client.end();
  }
}

async function provisionProbeLogin(client: pg.Client, settings: DbSettings, login: DbProbeLogin): Promise<string[]> {
  if (login.user === settings.user)
    return [`the monitoring login "${login.user}" is also the application role; give the NOC its own user (noc settings.dbUser)`];
  const database = await client.query("SELECT 1 FROM pg_database WHERE datname = $1 AND datallowconn", [login.database]);
  if (!database.rowCount) return [`the monitoring login's database "${login.database}" does not exist or refuses connections (noc settings.dbName)`];
  const role = client.escapeIdentifier(login.user);
  const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [login.user]);
  const verb = exists.rowCount ? "ALTER" : "CREATE";
  // The verifier is stored as given (PostgreSQL recognises the SCRAM-SHA-256$ form).
  await client.query(
    `${verb} ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS ` +
      `CONNECTION LIMIT ${PROBE_CONNECTION_LIMIT} PASSWORD ${client.escapeLiteral(login.verifier)}`,
  );
  await client.query(`ALTER ROLE ${role} SET default_transaction_read_only = on`);
  // No memberships (a GRANT of another role would lend it that role's rights).
  const memberships = await client.query<{ name: string }>(
    "SELECT r.rolname AS name FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1",
    [login.user],
  );
  for (const m of memberships.rows) await client.query(`REVOKE ${client.escapeIdentifier(m.name)} FROM ${role}`);
  const others = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datallowconn AND datname <> $1 ORDER BY datname", [
    login.database,
  ]);
  for (const { datname } of others.rows) {
    const db = client.escapeIdentifier(datname);
    await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${db} FROM PUBLIC`);
    await client.query(`REVOKE ALL ON DATABASE ${db} FROM ${role}`);
  }
  const own = client.escapeIdentifier(login.database);
  await client.query(`REVOKE TEMPORARY ON DATABASE ${own} FROM PUBLIC`);
  await client.query(`REVOKE ALL ON DATABASE ${own} FROM ${role}`);
  await client.query(`GRANT CONNECT ON DATABASE ${own} TO ${role}`);
  return [];
}
