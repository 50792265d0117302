/**
 * Brings the cluster to what the settings declare, at every start: the application role
 * exists with the password from the credentials file (so a rotated secret applies on the
 * next restart) and every declared database exists, owned by that role. Nothing is dropped.
 *
 * With a monitoring login (the NOC's, see contracts/settings/db.ts dbProbeLoginSchema) its role is made
 * least-privileged: LOGIN and nothing else (no superuser, createdb, createrole, replication,
 * RLS bypass, inheritance or memberships), read-only sessions, a small connection limit, and
 * CONNECT on its one database only — PUBLIC's default CONNECT is revoked from every other
 * database that accepts connections (their owners keep theirs; the superuser is unaffected).
 *
 * Every monitoring role provisioning creates carries a COMMENT ({@link MONITORING_ROLE_COMMENT}).
 * When a deployment drops the monitoring login (no login file any more, another user name, or
 * a login left out for a mistake in the NOC's settings), each marked role that is not the
 * current login loses LOGIN and its CONNECT on every database; it is not dropped (it may own
 * nothing, but dropping is irreversible and a login that comes back is simply re-enabled).
 * Roles without the mark — made by an operator, or by an older version of this code — are
 * never touched.
 */
import pg from "pg";
import type { DbProbeLogin, DbSettings } from "../../../contracts/settings/db";

/** How provisioning reaches the server as its superuser: the local socket (a password for the single server; peer for HA). */
export interface SuperuserLogin {
  /** The unix socket's folder. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
}

/** Marks the roles provisioning created as monitoring logins; nothing else ever carries it. */
export const MONITORING_ROLE_COMMENT = "serverpark: the NOC's monitoring login, made by the db role's provisioning";

export interface ProvisionResult {
  /** Problems with the monitoring login, which is then left out (see {@link provision}). */
  readonly problems: string[];
  /** Earlier monitoring roles that lost LOGIN and CONNECT because they are not the current login. */
  readonly disabled: string[];
}

/** Enough for a probe every few seconds plus one straggler. */
const PROBE_CONNECTION_LIMIT = 3;

/**
 * @returns problems with the monitoring login, which is then left out: a mistake in the NOC's
 * settings must not keep the database from serving its applications (the NOC shows the
 * refused login instead); and the earlier monitoring roles it disabled.
 */
export async function provision(login: SuperuserLogin, settings: DbSettings, password: string, probeLogin?: DbProbeLogin): Promise<ProvisionResult> {
  const client = new pg.Client({ ...login, database: "postgres" });
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
    // The application role is never a monitoring role, even if an earlier login had its name.
    if (await isMarked(client, settings.user)) await client.query(`COMMENT ON ROLE ${role} IS NULL`);
    const problems = probeLogin ? await provisionProbeLogin(client, settings, probeLogin) : [];
    const current = probeLogin && problems.length === 0 ? probeLogin.user : undefined;
    const disabled = await disableStaleMonitoringRoles(client, settings, current);
    return { problems, disabled };
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
  // Only a role made here is marked: one that existed before is someone else's, and is left
  // alone when the monitoring login moves on.
  if (verb === "CREATE") await client.query(`COMMENT ON ROLE ${role} IS ${client.escapeLiteral(MONITORING_ROLE_COMMENT)}`);
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

async function isMarked(client: pg.Client, user: string): Promise<boolean> {
  const found = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1 AND shobj_description(oid, 'pg_authid') = $2", [user, MONITORING_ROLE_COMMENT]);
  return (found.rowCount ?? 0) > 0;
}

/**
 * Every role carrying the mark other than `current` (and never the application role or a
 * superuser): NOLOGIN, and CONNECT (with every other database privilege) revoked everywhere.
 * Idempotent, so a restart with the same settings changes nothing.
 */
async function disableStaleMonitoringRoles(client: pg.Client, settings: DbSettings, current: string | undefined): Promise<string[]> {
  const stale = await client.query<{ name: string; login: boolean }>(
    "SELECT rolname AS name, rolcanlogin AS login FROM pg_roles WHERE shobj_description(oid, 'pg_authid') = $1 AND NOT rolsuper " +
      "AND rolname <> $2 AND rolname <> COALESCE($3, '') ORDER BY rolname",
    [MONITORING_ROLE_COMMENT, settings.user, current ?? null],
  );
  const databases = await client.query<{ datname: string }>("SELECT datname FROM pg_database ORDER BY datname");
  const disabled: string[] = [];
  for (const { name, login } of stale.rows) {
    const role = client.escapeIdentifier(name);
    await client.query(`ALTER ROLE ${role} WITH NOLOGIN`);
    for (const { datname } of databases.rows) await client.query(`REVOKE ALL ON DATABASE ${client.escapeIdentifier(datname)} FROM ${role}`);
    if (login) disabled.push(name);
  }
  return disabled;
}
