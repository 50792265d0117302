/**
 * Deployment hooks of the noc role (see ./types.ts). Owned by the noc role's authors.
 *
 * The status page needs a login: the hook generates its password (random.RandomPassword, a
 * Pulumi secret end to end) and places it in the replica, where images/noc reads it
 * (SP_NOC_PASSWORD_FILE). Operators read it with `pulumi stack export --show-secrets` or
 * `docker exec <datacenter>-noc-0 cat /etc/serverpark/secrets/noc-password`; the user name is
 * the service's `settings.username` (default "operator").
 *
 * The database probe gets its own least-privileged login ({@link nocDbLogin}): one generated
 * password per datacenter, handed in plain (as a secret file) to the NOC and only as a SCRAM
 * verifier to the db replicas, which create the role (images/db/src/provision.ts).
 *
 * What the NOC probes and draws (and the name to ask each proxy for) is in its view, the
 * runtime config (components/model/nocView.ts), not in a file of this hook.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { NOC_DB_PASSWORD_PATH, NOC_PASSWORD_PATH } from "../../contracts/paths";
import { scramSha256Verifier } from "../../contracts/credentials/scram";
import { settingsOf } from "../spec/roleSettings";
import type { DatacenterPlan } from "../plan";
import type { RoleHookContext, RoleHooks } from "./types";

export interface NocDbLogin {
  readonly user: string;
  readonly database: string;
  /** Secret. Only the NOC receives it. */
  readonly password: pulumi.Output<string>;
  /** Secret. What the db replicas receive: `SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>`. */
  readonly verifier: pulumi.Output<string>;
}

const logins = new WeakMap<DatacenterPlan, NocDbLogin | null>();

/**
 * The NOC's database login, made once per datacenter (plan) for both hooks that need it: the
 * noc role's (password) and the db role's (verifier). Undefined when the datacenter has no
 * NOC or no database. The resources are parented to whichever service asks first: their URNs
 * name only the parent's type (`serverpark:datacenter:Service`, the same for every service),
 * so they do not depend on that order. The salt is a RandomBytes so the verifier, and with it
 * the preview, stays the same between deployments.
 */
export function nocDbLogin(ctx: RoleHookContext): NocDbLogin | undefined {
  const known = logins.get(ctx.plan);
  if (known !== undefined) return known ?? undefined;
  const noc = ctx.plan.services.find((s) => s.role === "noc");
  if (!noc || !ctx.plan.services.some((s) => s.role === "db")) {
    logins.set(ctx.plan, null);
    return undefined;
  }
  const settings = settingsOf(noc, "noc");
  const name = `${ctx.plan.datacenter}-noc-db-login`;
  const password = new random.RandomPassword(name, { length: 32, special: false }, { parent: ctx.parent });
  const salt = new random.RandomBytes(`${name}-salt`, { length: 16 }, { parent: ctx.parent });
  const login: NocDbLogin = {
    user: settings.dbUser,
    database: settings.dbName,
    password: pulumi.secret(password.result),
    verifier: pulumi.secret(pulumi.all([password.result, salt.base64]).apply(([p, s]) => scramSha256Verifier(p, Buffer.from(s, "base64")))),
  };
  logins.set(ctx.plan, login);
  return login;
}

export const hooks: RoleHooks = {
  files(ctx) {
    const password = new random.RandomPassword(`${ctx.name}-password`, { length: 24, special: false }, { parent: ctx.parent });
    const login = nocDbLogin(ctx);
    return [
      { path: NOC_PASSWORD_PATH, content: pulumi.secret(password.result), secret: true },
      ...(login ? [{ path: NOC_DB_PASSWORD_PATH, content: login.password, secret: true }] : []),
    ];
  },
};
