/** Deployment hooks of the db role (see ./types.ts). Owned by the db role's authors. */
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {};
