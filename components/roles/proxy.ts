/**
 * Deployment hooks of the proxy role (see ./types.ts). Owned by the proxy role's authors.
 * The proxy terminates TLS for the sites it routes, so its certificate must name them:
 * the route hosts from the settings, or, without routes, the names of every web and game
 * service (the routes the proxy derives by default, see images/proxy/src/routes.ts).
 */
import { proxySettingsSchema } from "../../contracts/settings/proxy";
import type { DatacenterPlan, PlannedService } from "../plan";
import type { RoleHooks } from "./types";

export function proxyCertificateNames(service: PlannedService, plan: DatacenterPlan): string[] {
  const parsed = proxySettingsSchema.safeParse(service.settings);
  // Invalid settings are reported by `serverpark validate`; the certificate then covers the defaults.
  const routes = parsed.success ? parsed.data.routes : [];
  const names =
    routes.length > 0
      ? routes.flatMap((r) => r.hosts)
      : plan.services
          .filter((s) => s.role === "web" || s.role === "game")
          .flatMap((s) => [`${s.id}.${plan.domain}`, ...s.networks.map((n) => `${s.id}.${n}.${plan.domain}`)]);
  return [...new Set(names.filter((n) => n !== "*"))].sort();
}

export const hooks: RoleHooks = { certificateNames: proxyCertificateNames };
