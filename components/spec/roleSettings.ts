/**
 * Every role's `settings` schema, the same zod schema its server validates at start-up
 * (contracts/settings/<role>.ts). The spec check runs them, so a typo in a route or a DNS record
 * is reported by `serverpark validate` and stops `pulumi up` before anything is deployed,
 * instead of surfacing as a container that exits with code 2.
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

export const ROLE_SETTINGS: { readonly [R in Role]: z.ZodType } = {
  web: webSettingsSchema,
  proxy: proxySettingsSchema,
  dns: dnsSettingsSchema,
  mail: mailSettingsSchema,
  file: fileSettingsSchema,
  db: dbSettingsSchema,
  game: gameSettingsSchema,
  noc: nocSettingsSchema,
};
