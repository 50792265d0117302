/**
 * The highly available db's timings, shared by the db image (which configures pg_auto_failover
 * with them, images/db/src/ha/config.ts) and the program's live-run prediction
 * (components/power/live/haGroup.ts), so the model and what runs cannot drift apart.
 */

/**
 * Failure detection and promotion timings. No split brain needs
 *   networkPartitionSeconds * 1000 < unhealthyTimeoutMs + primaryDemoteTimeoutMs:
 * an isolated primary stops itself (pg_autoctl's network-partition rule) before the
 * monitor lets the standby take over. Synchronous replication covers the window before
 * that: the isolated primary cannot acknowledge a commit its standby has not received.
 */
export interface HaTimings {
  /** Monitor: how often it connects to each node. */
  readonly healthCheckPeriodMs: number;
  /** Monitor: connect timeout of one check. */
  readonly healthCheckTimeoutMs: number;
  readonly healthCheckMaxRetries: number;
  readonly healthCheckRetryDelayMs: number;
  /** Monitor: a node whose keeper has not reported for this long and fails its checks is unhealthy. */
  readonly unhealthyTimeoutMs: number;
  /** Monitor: how long the old primary gets to stop before the standby is promoted. */
  readonly primaryDemoteTimeoutMs: number;
  /** Monitor: no failover this soon after the monitor itself started. */
  readonly startupGracePeriodMs: number;
  /** Keeper: a primary that reaches neither the monitor nor a standby for this long demotes itself. */
  readonly networkPartitionSeconds: number;
}

/**
 * Tighter than pg_auto_failover's defaults (20 s unhealthy + 30 s demote) to fail over in
 * under 10 s (bench/db/README.md has where the time goes, before and after). What each
 * costs, and why it is safe (images/db/README.md "No split brain"):
 * - a dead container's address does not refuse: every health check waits for its timeout,
 *   so detection is period phase + timeout + (delay + timeout) per retry ≈ 1.5-3 s;
 * - a false "unhealthy" needs BOTH the keeper silent for unhealthyTimeoutMs (it reports
 *   every second) AND every check of a round timing out; on a loaded host that costs one
 *   needless failover (seconds of refused writes), never an acknowledged commit
 *   (synchronous replication);
 * - the demote timeout only has to outlast the isolated primary's own self-demotion
 *   (networkPartitionSeconds plus one keeper loop), which checkTimings enforces.
 */
export const DEFAULT_TIMINGS: HaTimings = {
  healthCheckPeriodMs: 500,
  healthCheckTimeoutMs: 1000,
  healthCheckMaxRetries: 1,
  healthCheckRetryDelayMs: 500,
  unhealthyTimeoutMs: 3000,
  primaryDemoteTimeoutMs: 3000,
  startupGracePeriodMs: 5000,
  networkPartitionSeconds: 2,
};

/**
 * From the primary's cut to a standby answering read-write: the monitor's detection and
 * `primary_demote_timeout`, then the standby's promotion, with the timings of
 * DEFAULT_TIMINGS above. Measured with `docker kill` of the primary's container
 * (bench/db/README.md, 2026-12-06, 15 kills at load 3-5): the monitor assigned `wait_primary`
 * 6.7-7.9 s after the kill; the promotion takes a fraction of a second more (0.05-0.2 s on
 * loopback), and the probe's fresh login every 250 ms adds its share.
 */
export const FAILOVER_SECONDS: { readonly min: number; readonly max: number } = { min: 6.5, max: 8.5 };

/**
 * pg_auto_failover's monitor fails nothing over this soon after it started itself
 * (`pgautofailover.startup_grace_period`, DEFAULT_TIMINGS above).
 */
export const MONITOR_STARTUP_GRACE_SECONDS = DEFAULT_TIMINGS.startupGracePeriodMs / 1000;
