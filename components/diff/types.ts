/**
 * The datacenter-level diff: what changes in the *datacenter* (hosts, racks, feeds,
 * networks, services, replicas) between two specs and their plans, as plain data. Renderers
 * (`render.ts` for the terminal, `comment.ts` for pull requests) only format it, and
 * `serverpark diff --json` prints it as it is.
 */

export type ChangeOp = "add" | "remove" | "change";
export type PartKind = "feed" | "rack" | "host" | "plan" | "network" | "service" | "dns" | "datacenter";

/** One changed part of the datacenter, e.g. `+ host h8 in rack r2 on feeds A+B`. */
export interface DatacenterChange {
  readonly part: PartKind;
  readonly id: string;
  readonly op: ChangeOp;
  /** One line a reviewer reads first. */
  readonly summary: string;
  /** What exactly changed, one fact per line (never a secret value: settings show keys only). */
  readonly details: readonly string[];
}

export interface ReplicaLocation {
  readonly host: string;
  readonly rack: string;
  readonly feeds: readonly string[];
}

/**
 * A replica that exists on both sides but on another host. The planner keeps replicas where
 * the lock put them, so a move means a forced change (its host left or shrank): the replica
 * is recreated, and a stateful one starts on an empty volume unless its data is restored.
 */
export interface ReplicaMove {
  readonly replica: string;
  readonly service: string;
  readonly stateful: boolean;
  readonly from: ReplicaLocation;
  readonly to: ReplicaLocation;
}

/** An existing member (host agent or replica) whose address on a network changes. */
export interface Renumbering {
  readonly network: string;
  /** `host:h1` or `replica:www-0`, as in the plan lock. */
  readonly member: string;
  readonly from: string;
  readonly to: string;
}

export interface Usage {
  readonly used: number;
  readonly limit: number;
}

/** What a host has promised and what it may promise; `limit - used` is its headroom. */
export interface HostCapacity {
  readonly cpus: Usage;
  readonly memoryGb: Usage;
  readonly diskGb: Usage;
  readonly replicas: number;
}

export interface HostHeadroom {
  readonly host: string;
  readonly before?: HostCapacity;
  readonly after?: HostCapacity;
  readonly changed: boolean;
}

/** N-1 verdict of one service: does it stay up when any single host, rack or feed fails? */
export interface RedundancyVerdict {
  readonly service: string;
  readonly survives: boolean;
  /** The single failures that take the service down (e.g. `feed B`, `host h3`), sorted. */
  readonly failures: readonly string[];
}

export interface RedundancyRow {
  readonly service: string;
  readonly before?: RedundancyVerdict;
  readonly after?: RedundancyVerdict;
  /** Survived N-1 before and does not after (or a new failure mode appeared). */
  readonly worse: boolean;
  readonly better: boolean;
}

export interface RedundancyReport {
  /** False when no power model was available; `rows` is then empty and `reason` says why. */
  readonly available: boolean;
  readonly source: string;
  readonly reason?: string;
  readonly rows: readonly RedundancyRow[];
}

export interface DatacenterDiff {
  /** Datacenter name on each side; `before` is absent for a stack new in this change. */
  readonly datacenter: { readonly before?: string; readonly after?: string };
  /** True when nothing in the datacenter changes. */
  readonly empty: boolean;
  readonly changes: readonly DatacenterChange[];
  readonly moves: readonly ReplicaMove[];
  readonly renumbered: readonly Renumbering[];
  readonly redundancy: RedundancyReport;
  /** Every host on either side, in head declaration order, then removed hosts. */
  readonly headroom: readonly HostHeadroom[];
  /** Planner notes of the head side (e.g. a locked replica that had to move). */
  readonly notes: readonly string[];
}
