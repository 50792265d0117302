/** Deployment hooks of the dns role (see ./types.ts). Owned by the dns role's authors. */
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {};
