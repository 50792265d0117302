/** Deployment hooks of the mail role (see ./types.ts). Owned by the mail role's authors. */
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {};
