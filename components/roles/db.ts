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
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DB_PASSWORD_PATH, DB_PROBE_LOGIN_PATH } from "../../contracts/paths";
import { nocDbLogin } from "./noc";
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {
  files(ctx) {
    const password = new random.RandomPassword(`${ctx.name}-app-password`, { length: 32, special: false }, { parent: ctx.parent });
    const login = nocDbLogin(ctx);
    return [
      { path: DB_PASSWORD_PATH, content: pulumi.secret(password.result), secret: true },
      ...(login
        ? [
            {
              path: DB_PROBE_LOGIN_PATH,
              content: pulumi.secret(login.verifier.apply((verifier) => JSON.stringify({ user: login.user, database: login.database, verifier }))),
              secret: true,
            },
          ]
        : []),
    ];
  },
};
