/**
 * What the Pulumi mocks (./pulumiMocks.ts) return for a `random.RandomPassword`: stable per
 * resource name, so snapshots stay reproducible and the end-to-end tests can log in with the
 * password a replica was deployed with.
 */
import { createHash } from "node:crypto";

export function mockPassword(resourceName: string, length = 24): string {
  return createHash("sha256").update(`password:${resourceName}`).digest("base64url").replace(/[-_]/g, "x").slice(0, length);
}
