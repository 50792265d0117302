/**
 * Deployment hooks of the web role (see ./types.ts). Owned by the web role's authors.
 * The replica certificate also names every site the service hosts (sites with their own
 * `tls` files present those instead, by SNI).
 */
import type { PlannedService } from "../plan";
import { settingsOf } from "../spec/roleSettings";
import type { RoleHooks } from "./types";

export function webCertificateNames(service: PlannedService): string[] {
  return [...new Set(settingsOf(service, "web").sites.flatMap((s) => [s.host, ...s.aliases]))].sort();
}

export const hooks: RoleHooks = { certificateNames: webCertificateNames };
