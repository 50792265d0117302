/**
 * What a client of a highly available db (components/plan/ha.ts: data nodes and the
 * pg_auto_failover monitor) sees during a live run. The db's probe (cli/chaos/probes) counts
 * the service up while a data node answers read-write, so:
 *
 * - the primary's loss is an outage until the monitor has promoted a standby
 *   (`FAILOVER_SECONDS`, measured, bench/db/README.md) — not until the primary's host boots;
 * - that needs a standby and the monitor running from the cut until the promotion; when either
 *   is missing, the outage lasts until the old primary is back, or until both are there again
 *   (the monitor that comes back first waits out its startup grace period before it fails over);
 * - a standby's loss, or the monitor's, costs readers nothing (writes pause on synchronous
 *   replication until the monitor notices a lost standby; the probe reads).
 *
 * A node that booted again counts as a standby at once (its rejoin, pg_rewind and catching up,
 * is not modelled: in the scenarios played so far no second failover came that soon).
 * Pure: no Docker, no clock. Times are real seconds after the start of the run.
 */
import { MONITOR_STARTUP_GRACE_SECONDS } from "../../../contracts/dbHa";
import { normalize, type Interval } from "./predict";

/** The measured failover and the monitor's start-up grace: contracts/dbHa.ts, with the timings they follow from. */
export { FAILOVER_SECONDS, MONITOR_STARTUP_GRACE_SECONDS } from "../../../contracts/dbHa";

export interface Member {
  readonly id: string;
  /** When the member is not running: its host's cut until its boot ended. */
  readonly down: readonly Interval[];
}

const upOn = (down: readonly Interval[], from: number, to: number) => down.every((d) => d.to <= from || d.from >= to);
const upAt = (down: readonly Interval[], t: number) => down.every((d) => t < d.from || t >= d.to);

/**
 * The group's down intervals for one failover time. `primary` is the data node that is primary
 * when the run starts; unknown, `earliest` takes the node cut last (a standby's loss costs
 * nothing) and otherwise the node cut first.
 */
export function haGroupDown(nodes: readonly Member[], monitor: Member, failoverSeconds: number, primary: string | undefined, earliest: boolean): Interval[] {
  const firstCut = (m: Member) => Math.min(Infinity, ...m.down.map((d) => d.from));
  const byCut = [...nodes].sort((a, b) => firstCut(a) - firstCut(b));
  let p = nodes.find((n) => n.id === primary) ?? (earliest ? byCut.at(-1) : byCut[0]);
  const out: Interval[] = [];
  let t = -Infinity;
  while (p) {
    const current: Member = p;
    const cut = current.down.filter((d) => d.to > t).sort((a, b) => a.from - b.from)[0];
    if (!cut) break;
    const from = Math.max(cut.from, t);
    // A failover can start once the monitor and a standby run; a monitor that just came back waits out its grace period.
    const starts = [from, ...[monitor, ...nodes].flatMap((m) => m.down.map((d) => d.to))].filter((x) => x >= from).sort((a, b) => a - b);
    let promoted: { at: number; node: Member } | undefined;
    for (const start of starts) {
      const monitorBack = monitor.down.find((d) => d.to <= start && d.to > from);
      const at = start + Math.max(failoverSeconds, monitorBack ? monitorBack.to + MONITOR_STARTUP_GRACE_SECONDS - start : 0);
      if (at >= cut.to) break;
      if (!upAt(monitor.down, start) || !upOn(monitor.down, start, at)) continue;
      const standby = nodes.find((n) => n !== current && upAt(n.down, start) && upOn(n.down, start, at));
      if (standby) {
        promoted = { at, node: standby };
        break;
      }
    }
    const to = promoted ? promoted.at : cut.to;
    out.push({ from, to });
    t = to;
    if (promoted) p = promoted.node;
  }
  return normalize(out);
}
