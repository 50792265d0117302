/** Deployment hooks of the noc role (see ./types.ts). Owned by the noc role's authors. */
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {};
