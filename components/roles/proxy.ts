/** Deployment hooks of the proxy role (see ./types.ts). Owned by the proxy role's authors. */
import type { RoleHooks } from "./types";

export const hooks: RoleHooks = {};
