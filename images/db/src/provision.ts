/**
 * Brings the cluster to what the settings declare, at every start: the application role
 * exists with the password from the credentials file (so a rotated secret applies on the
 * next restart) and every declared database exists, owned by that role. Nothing is dropped.
 */
import pg from "pg";
import type { DbSettings } from "../settings";
import type { Postgres } from "./postgres";

export async function provision(postgres: Postgres, settings: DbSettings, password: string): Promise<void> {
  const client = new pg.Client({
    host: postgres.options.socketDir,
    port: postgres.options.port,
    user: "postgres",
    password: postgres.superuserPassword(),
    database: "postgres",
  });
  await client.connect();
  try {
    const role = client.escapeIdentifier(settings.user);
    const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [settings.user]);
    // DDL cannot take bind parameters; escapeLiteral quotes the password safely.
    const verb = exists.rowCount ? "ALTER" : "CREATE";
    await client.query(`${verb} ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEROLE PASSWORD ${client.escapeLiteral(password)}`);
    for (const db of settings.databases) {
      const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [db]);
      if (!found.rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(db)} OWNER ${role}`);
    }
  } finally {
    await client.end();
  }
}
