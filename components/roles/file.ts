/**
 * Deployment hooks of the file role (see ./types.ts). Owned by the file role's authors.
 *
 * Like the mail role: every user in `settings.users`, and every hosting customer's account
 * with `password: true` (components/model/fileView.ts), gets a generated password (a Pulumi
 * secret) and replicas receive only scrypt hashes, salted with a random.RandomBytes so the
 * file stays the same between deployments.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { FILE_CREDENTIALS_PATH } from "../../contracts/paths";
import { GENERATED_PASSWORD_PARAMS, hashPassword } from "../../contracts/credentials/scrypt";
import { fileAccountsOf } from "../model/fileView";
import { settingsOf } from "../spec/roleSettings";
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {
  files(ctx) {
    // The service's own users, then the hosting customers' accounts that log in with a password
    // (key-only accounts get no hash: a password never logs them in).
    const withPassword = new Set(ctx.plan.customers?.flatMap((c) => c.fileAccounts.filter((a) => a.password).map((a) => a.name)) ?? []);
    const customers = fileAccountsOf(ctx.plan, ctx.service).filter((a) => withPassword.has(a.name));
    const users = [...settingsOf(ctx.service, "file").users.map((u) => u.name), ...customers.map((a) => a.name)];
    const hashes = users.map((user) => {
      const password = new random.RandomPassword(`${ctx.name}-user-${user}`, { length: 24, special: false }, { parent: ctx.parent });
      const salt = new random.RandomBytes(`${ctx.name}-user-${user}-salt`, { length: 16 }, { parent: ctx.parent });
      return pulumi
        .all([password.result, salt.base64])
        .apply(([p, s]) => [user, hashPassword(p, Buffer.from(s, "base64"), GENERATED_PASSWORD_PARAMS)] as const);
    });
    const content = pulumi.all(hashes).apply((entries) => JSON.stringify({ users: Object.fromEntries(entries) }));
    return [{ path: FILE_CREDENTIALS_PATH, content: pulumi.secret(content), secret: true }];
  },
};
