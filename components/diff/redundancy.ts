/**
 * Redundancy before and after a change. The verdicts come from the power model
 * (components/power, issue 7); the diff only depends on this narrow interface so that the
 * power model can evolve (or be absent) without touching the diff.
 */
import type { DatacenterPlan } from "../plan";
import type { DatacenterSpec } from "../spec/schema";
import type { HostPorts } from "../targets/docker/hostPorts";
import type { RedundancyReport, RedundancyRow, RedundancyVerdict } from "./types";

/** Anything that can judge every service of a planned datacenter under N-1. */
export interface RedundancyModel {
  /** Shown in the report, e.g. "power model N-1 (hosts, racks, feeds, PDUs)". */
  readonly source: string;
  analyze(spec: DatacenterSpec, plan: DatacenterPlan): readonly RedundancyVerdict[];
}

export interface Side {
  readonly spec: DatacenterSpec;
  readonly plan: DatacenterPlan;
  /** The Docker target's host ports (components/targets/docker/hostPorts.ts), when known. */
  readonly hostPorts?: HostPorts;
}

/** Compares the verdicts of both sides; services in head order, then removed ones. */
export function compareRedundancy(model: RedundancyModel | undefined, base: Side | undefined, head: Side | undefined): RedundancyReport {
  if (!model) return { available: false, source: "none", reason: "no power model is available", rows: [] };
  let before: readonly RedundancyVerdict[];
  let after: readonly RedundancyVerdict[];
  try {
    before = base ? model.analyze(base.spec, base.plan) : [];
    after = head ? model.analyze(head.spec, head.plan) : [];
  } catch (e) {
    // A broken analysis must not hide the rest of the diff; the report says what failed.
    return { available: false, source: model.source, reason: `the power model failed: ${(e as Error).message}`, rows: [] };
  }
  const b = new Map(before.map((v) => [v.service, v]));
  const a = new Map(after.map((v) => [v.service, v]));
  const order = [...a.keys(), ...[...b.keys()].filter((s) => !a.has(s))];
  const rows: RedundancyRow[] = order.map((service) => {
    const was = b.get(service);
    const now = a.get(service);
    const worse = !!was && !!now && judge(was, now) > 0;
    const better = !!was && !!now && judge(was, now) < 0;
    return { service, ...(was ? { before: was } : {}), ...(now ? { after: now } : {}), worse, better };
  });
  return { available: true, source: model.source, rows };
}

/** The kinds of single failure that take a service down: `feed B` → `feed`. */
const kinds = (v: RedundancyVerdict) => new Set(v.failures.map((f) => f.split(" ")[0]));

/**
 * > 0 when `now` is less redundant than `was`: it no longer survives N-1, a new *kind* of
 * single failure takes it down (a feed where only its host did before), or more single
 * failures do. A replica that moves to an equivalent host changes the names, not the verdict.
 */
export function judge(was: RedundancyVerdict, now: RedundancyVerdict): number {
  if (was.survives !== now.survives) return was.survives ? 1 : -1;
  const a = kinds(was);
  const b = kinds(now);
  const gained = [...b].some((k) => !a.has(k));
  const lost = [...a].some((k) => !b.has(k));
  if (gained !== lost) return gained ? 1 : -1;
  return Math.sign(now.failures.length - was.failures.length);
}
