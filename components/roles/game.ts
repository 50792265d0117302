/** Deployment hooks of the game role (see ./types.ts). Owned by the game role's authors. */
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {};
