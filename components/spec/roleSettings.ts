/**
 * Every role's `settings` schema, the same zod schema its server validates at start-up
 * (contracts/settings/<role>.ts). The spec check runs them once (components/spec/validate.ts),
 * so a typo in a route or a DNS record is reported by `serverpark validate` and stops
 * `pulumi up` before anything is deployed; the parsed result travels on the spec's service
 * (`roleSettings`) into the plan, where role hooks and views read it with {@link settingsOf}.
 */
import type { z } from "zod";
import { dbSettingsSchema } from "../../contracts/settings/db";
import { dnsSettingsSchema } from "../../contracts/settings/dns";
import { fileSettingsSchema } from "../../contracts/settings/file";
import { gameSettingsSchema } from "../../contracts/settings/game";
import { mailSettingsSchema } from "../../contracts/settings/mail";
import { nocSettingsSchema } from "../../contracts/settings/noc";
import { proxySettingsSchema } from "../../contracts/settings/proxy";
import { webSettingsSchema } from "../../contracts/settings/web";
import type { Role } from "../../contracts/roles";

export const ROLE_SETTINGS = {
  web: webSettingsSchema,
  proxy: proxySettingsSchema,
  dns: dnsSettingsSchema,
  mail: mailSettingsSchema,
  file: fileSettingsSchema,
  db: dbSettingsSchema,
  game: gameSettingsSchema,
  noc: nocSettingsSchema,
} as const satisfies { readonly [R in Role]: z.ZodType };

/** Each role's settings as its schema outputs them (defaults applied). */
export type RoleSettings = { readonly [R in Role]: z.output<(typeof ROLE_SETTINGS)[R]> };
/** The parsed settings of some role. */
export type AnyRoleSettings = RoleSettings[Role];

/**
 * The parsed settings of a service of role `role`. Throws when the service is of another role
 * or its settings were never parsed (a spec validated with `roleSettings: false`, which only
 * the diff and the policy tests use: neither deploys): there is no default to fall back on.
 */
export function settingsOf<R extends Role>(
  service: { readonly id: string; readonly role: Role; readonly roleSettings?: AnyRoleSettings },
  role: R,
): RoleSettings[R] {
  if (service.role !== role) throw new Error(`service ${service.id} is a ${service.role} service, not ${role}`);
  if (service.roleSettings === undefined) {
    throw new Error(`the settings of service ${service.id} were not validated (validateSpec with roleSettings: false); they cannot be deployed`);
  }
  return service.roleSettings as RoleSettings[R];
}
