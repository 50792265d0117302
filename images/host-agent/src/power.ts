/**
 * The power state of one physical host, as a pure model the HTTP layer drives.
 *
 * A PSU delivers power while its own unit, its PDU and that PDU's feed are all up; the
 * host runs while at least one PSU delivers (that is what dual PSUs on two feeds buy).
 * Feeds and PDUs here are only the ones this host's PSUs use: the datacenter-wide
 * picture lives in the power model, this agent just plays out what it is told.
 */
import { z } from "zod";

export interface Psu {
  readonly id: string;
  readonly pdu: string;
  readonly feed: string;
}

export interface PsuStatus extends Psu {
  /** The unit itself works (false simulates a failed PSU). */
  readonly healthy: boolean;
  /** Delivers power: healthy, and its PDU and feed are up. */
  readonly powered: boolean;
}

export interface PowerSnapshot {
  readonly powered: boolean;
  readonly feeds: Readonly<Record<string, boolean>>;
  readonly pdus: Readonly<Record<string, boolean>>;
  readonly psus: readonly PsuStatus[];
}

/** Body of POST /power: any of feeds / pdus / psus, each a map of name → up. */
export const powerChangeSchema = z
  .strictObject({
    feeds: z.record(z.string(), z.boolean()).optional(),
    pdus: z.record(z.string(), z.boolean()).optional(),
    psus: z.record(z.string(), z.boolean()).optional(),
  })
  .refine((c) => c.feeds ?? c.pdus ?? c.psus, {
    message: 'expected at least one of "feeds", "pdus" or "psus", e.g. {"feeds":{"A":false}}',
  });
export type PowerChange = z.output<typeof powerChangeSchema>;

export class PowerState {
  private readonly feeds = new Map<string, boolean>();
  private readonly pdus = new Map<string, boolean>();
  private readonly units = new Map<string, boolean>();

  constructor(readonly psus: readonly Psu[]) {
    for (const psu of psus) {
      this.feeds.set(psu.feed, true);
      this.pdus.set(psu.pdu, true);
      this.units.set(psu.id, true);
    }
  }

  /**
   * Checks every name first and applies nothing if one is unknown, so a typo never
   * leaves the host half-changed. Returns the problems (empty when applied).
   */
  apply(change: PowerChange): string[] {
    const problems = [
      ...unknownNames("feed", change.feeds, this.feeds),
      ...unknownNames("pdu", change.pdus, this.pdus),
      ...unknownNames("psu", change.psus, this.units),
    ];
    if (problems.length > 0) return problems;
    for (const [map, values] of [
      [this.feeds, change.feeds],
      [this.pdus, change.pdus],
      [this.units, change.psus],
    ] as const) {
      for (const [key, up] of Object.entries(values ?? {})) map.set(key, up);
    }
    return [];
  }

  snapshot(): PowerSnapshot {
    const psus = this.psus.map((psu) => {
      const healthy = this.units.get(psu.id) === true;
      return { ...psu, healthy, powered: healthy && this.pdus.get(psu.pdu) === true && this.feeds.get(psu.feed) === true };
    });
    return {
      powered: psus.some((p) => p.powered),
      feeds: Object.fromEntries(this.feeds),
      pdus: Object.fromEntries(this.pdus),
      psus,
    };
  }
}

function unknownNames(kind: string, values: Record<string, boolean> | undefined, known: Map<string, boolean>): string[] {
  return Object.keys(values ?? {})
    .filter((key) => !known.has(key))
    .map((key) => `unknown ${kind} ${JSON.stringify(key)}; this host's ${kind}s are ${[...known.keys()].join(", ")}`);
}
