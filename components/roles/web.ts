/**
 * Deployment hooks of the web role (see ./types.ts). Owned by the web role's authors.
 * The replica certificate also names every site the service hosts (sites with their own
 * `tls` files present those instead, by SNI).
 */
import { webSettingsSchema } from "../../contracts/settings/web";
import type { PlannedService } from "../plan";
import type { RoleHooks } from "./types";

export function webCertificateNames(service: PlannedService): string[] {
  const parsed = webSettingsSchema.safeParse(service.settings);
  if (!parsed.success) return []; // reported by `serverpark validate`
  return [...new Set(parsed.data.sites.flatMap((s) => [s.host, ...s.aliases]))].sort();
}

export const hooks: RoleHooks = { certificateNames: webCertificateNames };
