/**
 * Deployment hooks of the proxy role (see ./types.ts). Owned by the proxy role's authors.
 * The proxy terminates TLS for the sites it routes, so its certificate must name them: the
 * hosts of its routes as resolved once in its view (components/model/proxyView.ts) — the
 * route hosts from the settings, or, without routes, the names of every web and game service.
 */
import { proxyView } from "../model/proxyView";
import type { DatacenterPlan, PlannedService } from "../plan";
import type { RoleHooks } from "./types";

export function proxyCertificateNames(service: PlannedService, plan: DatacenterPlan): string[] {
  return [...proxyView(plan, service).certificateNames];
}

export const hooks: RoleHooks = { certificateNames: proxyCertificateNames };
