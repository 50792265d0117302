/**
 * The docker CLI for tests (lab/docker-cli.ts) and the rule every Docker test follows:
 * without an engine it is skipped with the reason printed, except under CI=true.
 */
import { dockerUnavailableReason } from "../../lab/docker-cli";

export { docker, dockerLines, dockerUnavailableReason, DockerCommandError, type DockerResult } from "../../lab/docker-cli";

/**
 * For test files: true when Docker tests can run. Without an engine they are skipped
 * with the reason printed, except under CI=true, where a missing engine is a failure
 * (CI must never pass by skipping the end-to-end tests).
 */
export function dockerTestsEnabled(): boolean {
  const reason = dockerUnavailableReason();
  if (!reason) return true;
  if (process.env.CI === "true") {
    throw new Error(`Docker tests cannot run under CI=true: ${reason}. Run scripts/setup-docker.sh first.`);
  }
  console.warn(`[docker tests skipped] docker info failed: ${reason} (run scripts/setup-docker.sh)`);
  return false;
}
