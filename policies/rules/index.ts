/**
 * Every policy of the pack, in id order. Importing this never starts anything: the
 * `PolicyPack` (which starts CrossGuard's gRPC server) is constructed only in policies/index.ts.
 */
import type { SpPolicy } from "../lib/policy";
import { BACKUP_POLICIES } from "./backup";
import { CAPACITY_POLICIES } from "./capacity";
import { CHANGE_POLICIES } from "./change";
import { CONFIGURATION_POLICIES } from "./configuration";
import { CREDENTIAL_POLICIES } from "./credentials";
import { DELETION_POLICIES } from "./deletion";
import { INVENTORY_POLICIES } from "./inventory";
import { LIMIT_POLICIES } from "./limits";
import { SEPARATION_POLICIES } from "./separation";
import { SITING_POLICIES } from "./siting";
import { VULNERABILITY_POLICIES } from "./vulnerabilities";
import { MANAGEMENT_POLICIES } from "./management";
import { NETWORK_POLICIES } from "./network";
import { OBSERVABILITY_POLICIES } from "./observability";
import { POWER_POLICIES } from "./power";
import { PRIVILEGED_POLICIES } from "./privileged";
import { RESIDENCY_POLICIES } from "./residency";
import { SECRET_POLICIES } from "./secrets";
import { TLS_POLICIES } from "./tls";

export const POLICIES: readonly SpPolicy[] = [
  ...POWER_POLICIES,
  ...PRIVILEGED_POLICIES,
  ...MANAGEMENT_POLICIES,
  ...SECRET_POLICIES,
  ...NETWORK_POLICIES,
  ...TLS_POLICIES,
  ...CAPACITY_POLICIES,
  ...CONFIGURATION_POLICIES,
  ...BACKUP_POLICIES,
  ...OBSERVABILITY_POLICIES,
  ...RESIDENCY_POLICIES,
  ...CHANGE_POLICIES,
  // Issue 20: controls checked on what is deployed.
  ...CREDENTIAL_POLICIES,
  ...DELETION_POLICIES,
  ...INVENTORY_POLICIES,
  ...LIMIT_POLICIES,
  ...SEPARATION_POLICIES,
  ...SITING_POLICIES,
  ...VULNERABILITY_POLICIES,
].sort((a, b) => a.name.localeCompare(b.name));

/** The pack's name as CrossGuard and Pulumi Cloud show it. */
export const PACK_NAME = "serverpark-iso27001";
