/**
 * Deployment hooks of the db role (see ./types.ts). Owned by the db role's authors.
 *
 * The application role's password is generated per service (random.RandomPassword, a
 * Pulumi secret: `pulumi stack export --show-secrets` shows it) and handed to every replica
 * as a file; the server sets it on the role at each start, so rotating the resource
 * (`pulumi up --replace`) rotates the password at the next restart.
 *
 * When the datacenter has a NOC, the replicas also receive its monitoring login (user,
 * database and a SCRAM verifier, never the password; see ./noc.ts nocDbLogin), a secret file
 * from which the server makes a least-privileged role.
 *
 * A highly available db (components/plan/ha.ts) also gets the passwords of pg_auto_failover's
 * two logins (the keepers' on the monitor, the standbys' replication login), generated per
 * service like the application's, as secret files. The monitor receives the monitor login's
 * password only: a compromised monitor holds no password that reads the data.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DB_HA_MONITOR_PASSWORD_PATH, DB_HA_REPLICATION_PASSWORD_PATH, DB_PASSWORD_PATH, DB_PROBE_LOGIN_PATH } from "../../contracts/paths";
import { nocDbLogin } from "./noc";
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {
  files(ctx) {
    const password = new random.RandomPassword(`${ctx.name}-app-password`, { length: 32, special: false }, { parent: ctx.parent });
    const login = nocDbLogin(ctx);
    // An HA group's monitor holds the group's state, never its data: it gets the monitor login's
    // password only, not the application's, the replication login's or the NOC's verifier.
    const data = ctx.service.ha ? ("data" as const) : undefined;
    const secretFile = (path: string, suffix: string, part?: "data") => ({
      path,
      content: pulumi.secret(new random.RandomPassword(`${ctx.name}-${suffix}`, { length: 32, special: false }, { parent: ctx.parent }).result),
      secret: true,
      part,
    });
    return [
      { path: DB_PASSWORD_PATH, content: pulumi.secret(password.result), secret: true, part: data },
      ...(ctx.service.ha
        ? [secretFile(DB_HA_MONITOR_PASSWORD_PATH, "ha-monitor-password"), secretFile(DB_HA_REPLICATION_PASSWORD_PATH, "ha-replication-password", "data")]
        : []),
      ...(login
        ? [
            {
              path: DB_PROBE_LOGIN_PATH,
              content: pulumi.secret(login.verifier.apply((verifier) => JSON.stringify({ user: login.user, database: login.database, verifier }))),
              secret: true,
              part: data,
            },
          ]
        : []),
    ];
  },
};
