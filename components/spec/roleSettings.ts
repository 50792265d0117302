/**
 * Every role's `settings` schema, the same zod schema its server validates at start-up
 * (images/<role>/settings.ts). The spec check runs them, so a typo in a route or a DNS record
 * is reported by `serverpark validate` and stops `pulumi up` before anything is deployed,
 * instead of surfacing as a container that exits with code 2.
 */
import type { z } from "zod";
import { dbSettingsSchema } from "../../images/db/settings";
import { dnsSettingsSchema } from "../../images/dns/settings";
import { fileSettingsSchema } from "../../images/file/settings";
import { gameSettingsSchema } from "../../images/game/settings";
import { mailSettingsSchema } from "../../images/mail/settings";
import { nocSettingsSchema } from "../../images/noc/settings";
import { proxySettingsSchema } from "../../images/proxy/settings";
import { webSettingsSchema } from "../../images/web/settings";
import type { Role } from "../model/roles";

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
