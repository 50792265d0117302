/** Deployment hooks of the web role (see ./types.ts). Owned by the web role's authors. */
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {};
