/**
 * Deployment hooks of the db role (see ./types.ts). Owned by the db role's authors.
 *
 * The application role's password is generated per service (random.RandomPassword, a
 * Pulumi secret: `pulumi stack export --show-secrets` shows it) and handed to every replica
 * as a file; the server sets it on the role at each start, so rotating the resource
 * (`pulumi up --replace`) rotates the password at the next restart.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { RoleHooks } from "./types";

/** Where the replica reads the password (images/db/src/main.ts, SP_DB_PASSWORD_FILE). */
export const DB_PASSWORD_PATH = "/etc/serverpark/secrets/db-password";

export const hooks: RoleHooks = {
  files(ctx) {
    const password = new random.RandomPassword(`${ctx.name}-app-password`, { length: 32, special: false }, { parent: ctx.parent });
    return [{ path: DB_PASSWORD_PATH, content: pulumi.secret(password.result), secret: true }];
  },
};
