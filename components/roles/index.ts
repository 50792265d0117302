/** The deployment hooks of every role; each role's hooks live in its own file. */
import type { Role } from "../../contracts/roles";
import { hooks as db } from "./db";
import { hooks as dns } from "./dns";
import { hooks as file } from "./file";
import { hooks as game } from "./game";
import { hooks as mail } from "./mail";
import { hooks as noc } from "./noc";
import { hooks as proxy } from "./proxy";
import type { RoleHooks } from "./types";
import { hooks as web } from "./web";

export type { ReplicaFile, RoleHookContext, RoleHooks } from "./types";

export const ROLE_HOOKS: Readonly<Record<Role, RoleHooks>> = { web, proxy, dns, mail, file, db, game, noc };
