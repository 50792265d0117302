/** Deployment hooks of the file role (see ./types.ts). Owned by the file role's authors. */
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {};
