/**
 * The CrossGuard entry point: `pulumi preview --policy-pack policies`. Kept thin on purpose —
 * constructing a PolicyPack starts the analyzer's gRPC server, so the policies themselves live
 * in ./rules and are imported from there by tests and `serverpark policy`.
 */
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, POLICIES } from "./rules";

new PolicyPack(PACK_NAME, {
  displayName: "Serverpark ISO/IEC 27001:2022 Annex A",
  description: "Checks a Serverpark datacenter stack against the ISO/IEC 27001:2022 Annex A controls it can evidence.",
  enforcementLevel: "mandatory",
  policies: [...POLICIES],
});
