/**
 * Deployment hooks of the noc role (see ./types.ts). Owned by the noc role's authors.
 *
 * The status page needs a login: the hook generates its password (random.RandomPassword, a
 * Pulumi secret end to end) and places it in the replica, where images/noc reads it
 * (SP_NOC_PASSWORD_FILE). Operators read it with `pulumi stack export --show-secrets` or
 * `docker exec <datacenter>-noc-0 cat /etc/serverpark/secrets/noc-password`; the user name is
 * the service's `settings.username` (default "operator").
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { RoleHooks } from "./types";

/** Where images/noc/src/main.ts reads the password (its SP_NOC_PASSWORD_FILE default). */
export const NOC_PASSWORD_PATH = "/etc/serverpark/secrets/noc-password";

export const hooks: RoleHooks = {
  files(ctx) {
    const password = new random.RandomPassword(`${ctx.name}-password`, { length: 24, special: false }, { parent: ctx.parent });
    return [{ path: NOC_PASSWORD_PATH, content: pulumi.secret(password.result), secret: true }];
  },
};
