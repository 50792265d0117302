/**
 * Deployment hooks of the mail role (see ./types.ts). Owned by the mail role's authors.
 *
 * Every user named in `settings.users`, and every hosting customer's mailbox on the service
 * (by its full address, components/model/mailView.ts), gets a generated password
 * (random.RandomPassword, a Pulumi secret; read it with `pulumi stack export --show-secrets`). Replicas receive only
 * scrypt hashes of them (contracts/credentials/scrypt.ts), salted with a random.RandomBytes so
 * the hash — and therefore the preview — stays the same from one `pulumi up` to the next.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { MAIL_CREDENTIALS_PATH } from "../../contracts/paths";
import { GENERATED_PASSWORD_PARAMS, hashPassword } from "../../contracts/credentials/scrypt";
import { mailViewOf } from "../model/mailView";
import { settingsOf } from "../spec/roleSettings";
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {
  certificateNames: (service, plan) => [`mail.${plan.domain}`, `imap.${plan.domain}`, `smtp.${plan.domain}`],
  files(ctx) {
    const users = [...settingsOf(ctx.service, "mail").users, ...mailViewOf(ctx.plan, ctx.service).mailboxes.map((m) => m.address)];
    const hashes = users.map((user) => {
      const password = new random.RandomPassword(`${ctx.name}-user-${user}`, { length: 24, special: false }, { parent: ctx.parent });
      const salt = new random.RandomBytes(`${ctx.name}-user-${user}-salt`, { length: 16 }, { parent: ctx.parent });
      return pulumi
        .all([password.result, salt.base64])
        .apply(([p, s]) => [user, hashPassword(p, Buffer.from(s, "base64"), GENERATED_PASSWORD_PARAMS)] as const);
    });
    const content = pulumi.all(hashes).apply((entries) => JSON.stringify({ users: Object.fromEntries(entries) }));
    return [{ path: MAIL_CREDENTIALS_PATH, content: pulumi.secret(content), secret: true }];
  },
};
