/**
 * Power flow: given which components are failed and how many kW each feed's source can
 * deliver, which hosts have power and how much load sits on each PDU and feed.
 *
 * Model (stated, because every result depends on it):
 * - A host draws its `powerWatts`, split evenly over the power supplies that have power;
 *   when one PDU or feed goes, a dual-PSU host moves its whole load to the other one.
 * - A PDU carries load while it, its rack and its feed are up. A rack failure takes its PDUs
 *   and hosts down.
 * - Overload: a PDU whose load exceeds its capacity trips its breaker, and a feed whose load
 *   exceeds what its current source delivers trips. Load then shifts again, so tripping is
 *   iterated to a fixpoint (at most one round per PDU and feed). A tripped element stays
 *   tripped for that evaluation; the simulation re-evaluates after every event, which
 *   models an operator resetting the breaker once the load fits again.
 */
import type { PowerTopology } from "./topology";

/** Loads may exceed a capacity by this much (kW) before tripping, to absorb float noise. */
const EPS = 1e-9;

/** Reusable buffers for evaluating one topology many times without allocating. */
export class PowerFlow {
  readonly hostPowered: Uint8Array;
  /** The host's power supplies have power (regardless of the host's own failure). */
  readonly hostSupplied: Uint8Array;
  readonly pduAlive: Uint8Array;
  readonly feedAlive: Uint8Array;
  readonly pduTripped: Uint8Array;
  readonly feedTripped: Uint8Array;
  readonly pduLoad: Float64Array;
  readonly feedLoad: Float64Array;

  /** Hosts as flat arrays for the evaluation loop: host h's PDUs are hostPdus[hostPduStart[h] … hostPduStart[h + 1]). */
  private readonly hostPduStart: Int32Array;
  private readonly hostPdus: Int32Array;
  private readonly hostRackComponent: Int32Array;
  private readonly hostComponent: Int32Array;
  private readonly hostKw: Float64Array;

  constructor(readonly topology: PowerTopology) {
    const { hosts, pdus, feeds, racks } = topology;
    this.hostPduStart = new Int32Array(hosts.length + 1);
    hosts.forEach((h, i) => (this.hostPduStart[i + 1] = this.hostPduStart[i]! + h.pdus.length));
    this.hostPdus = Int32Array.from(hosts.flatMap((h) => h.pdus));
    this.hostRackComponent = Int32Array.from(hosts.map((h) => racks[h.rack]!.component));
    this.hostComponent = Int32Array.from(hosts.map((h) => h.component));
    this.hostKw = Float64Array.from(hosts.map((h) => h.kw));
    this.hostPowered = new Uint8Array(hosts.length);
    this.hostSupplied = new Uint8Array(hosts.length);
    this.pduAlive = new Uint8Array(pdus.length);
    this.pduTripped = new Uint8Array(pdus.length);
    this.feedAlive = new Uint8Array(feeds.length);
    this.feedTripped = new Uint8Array(feeds.length);
    this.pduLoad = new Float64Array(pdus.length);
    this.feedLoad = new Float64Array(feeds.length);
    this.lastDown = new Uint8Array(topology.components.length);
    this.placedComponents = Int32Array.from([...pdus.map((p) => p.component), ...racks.map((r) => r.component), ...hosts.map((h) => h.component)]);
    this.lastFeedAlive = new Uint8Array(feeds.length);
  }

  /**
   * The host results and loads are those a first round computes for `lastDown` and
   * `lastFeedAlive` (the last evaluation, which tripped nothing) and nothing changed them since.
   */
  private reusable = false;
  private readonly lastDown: Uint8Array;
  /** The components whose failure a round reads besides the feeds': PDUs, racks and hosts. */
  private readonly placedComponents: Int32Array;
  private readonly lastFeedAlive: Uint8Array;
  /** The last `evaluate` found the same failed components and live feeds as the one before and tripped nothing: no host's power changed. */
  unchanged = false;

  /**
   * @param down    per component index: 1 when failed
   * @param sourceKw per feed: kW its current source can deliver (0 = no source)
   */
  evaluate(down: Uint8Array, sourceKw: Float64Array): void {
    const { pdus, feeds } = this.topology;
    this.pduTripped.fill(0);
    this.feedTripped.fill(0);
    let reused = false;
    for (let round = 0; round <= pdus.length + feeds.length; round++) {
      for (let f = 0; f < feeds.length; f++) {
        this.feedAlive[f] = sourceKw[f]! > 0 && down[feeds[f]!.feedComponent] === 0 && this.feedTripped[f] === 0 ? 1 : 0;
      }
      // A source change alone (utility lost, generator running, utility back) leaves every
      // PDU and host as the last evaluation found them: only the trip checks below are new.
      reused = round === 0 && this.reusable && sameBytes(this.feedAlive, this.lastFeedAlive) && this.samePlacedDown(down);
      if (!reused) this.distribute(down);

      let changed = false;
      for (let p = 0; p < pdus.length; p++) {
        if (this.pduAlive[p] === 1 && this.pduLoad[p]! > pdus[p]!.capacityKw + EPS) {
          this.pduTripped[p] = 1;
          changed = true;
        }
      }
      for (let f = 0; f < feeds.length; f++) {
        if (this.feedAlive[f] === 1 && this.feedLoad[f]! > sourceKw[f]! + EPS) {
          this.feedTripped[f] = 1;
          changed = true;
        }
      }
      if (!changed) break;
    }
    let trips = 0;
    for (let p = 0; p < pdus.length; p++) trips += this.pduTripped[p]!;
    for (let f = 0; f < feeds.length; f++) trips += this.feedTripped[f]!;
    this.trips = trips;
    this.unchanged = reused && trips === 0;
    this.reusable = trips === 0;
    if (this.reusable) {
      this.lastDown.set(down);
      this.lastFeedAlive.set(this.feedAlive);
    }
  }

  private samePlacedDown(down: Uint8Array): boolean {
    const { placedComponents, lastDown } = this;
    for (let i = 0; i < placedComponents.length; i++) {
      const c = placedComponents[i]!;
      if (down[c] !== lastDown[c]) return false;
    }
    return true;
  }

  /** One round: which PDUs and hosts have power, and the load on each PDU and feed. */
  private distribute(down: Uint8Array): void {
    const { hosts, pdus, racks } = this.topology;
    const { hostPduStart, hostPdus, hostRackComponent, hostComponent, hostKw, pduAlive, pduLoad } = this;
    for (let p = 0; p < pdus.length; p++) {
      const pdu = pdus[p]!;
      this.pduAlive[p] =
        down[pdu.component] === 0 && down[racks[pdu.rack]!.component] === 0 && this.pduTripped[p] === 0 && pdu.feed >= 0 && this.feedAlive[pdu.feed] === 1
          ? 1
          : 0;
    }
    this.pduLoad.fill(0);
    this.feedLoad.fill(0);
    for (let h = 0; h < hosts.length; h++) {
      const from = hostPduStart[h]!;
      const to = hostPduStart[h + 1]!;
      let live = 0;
      for (let k = from; k < to; k++) live += pduAlive[hostPdus[k]!]!;
      const supplied = live > 0 && down[hostRackComponent[h]!] === 0;
      this.hostSupplied[h] = supplied ? 1 : 0;
      const powered = supplied && down[hostComponent[h]!] === 0;
      this.hostPowered[h] = powered ? 1 : 0;
      if (!powered) continue;
      const share = hostKw[h]! / live;
      for (let k = from; k < to; k++) {
        const p = hostPdus[k]!;
        if (pduAlive[p] === 1) pduLoad[p]! += share;
      }
    }
    for (let p = 0; p < pdus.length; p++) if (this.pduAlive[p] === 1) this.feedLoad[pdus[p]!.feed]! += this.pduLoad[p]!;
  }

  /** Tripped PDUs and feeds after the last full evaluation. */
  private trips = 0;

  /**
   * Updates the result after only host `h`'s own failure state changed, without a full
   * evaluation — the Monte-Carlo hot path, where most events are host failures and repairs.
   * It is exact when nothing is tripped: a host going down only lowers loads (nothing can
   * trip), and a host coming back is accepted only if no PDU or feed it adds load to
   * overloads. Returns false when a full `evaluate` is needed instead.
   */
  hostChanged(h: number, down: Uint8Array, sourceKw: Float64Array): boolean {
    if (this.trips > 0) return false;
    const host = this.topology.hosts[h]!;
    if (this.hostSupplied[h] === 0) return true;
    const wantPowered = down[host.component] === 0 ? 1 : 0;
    if (this.hostPowered[h] === wantPowered) return true;
    let live = 0;
    for (const p of host.pdus) live += this.pduAlive[p]!;
    const share = host.kw / live;
    const pdus = this.topology.pdus;
    this.reusable = false; // the loads now differ from what a first round would sum
    if (wantPowered === 0) {
      for (const p of host.pdus) {
        if (this.pduAlive[p] === 0) continue;
        this.pduLoad[p]! -= share;
        this.feedLoad[pdus[p]!.feed]! -= share;
      }
      this.hostPowered[h] = 0;
      return true;
    }
    for (const p of host.pdus) {
      if (this.pduAlive[p] === 0) continue;
      const f = pdus[p]!.feed;
      if (this.pduLoad[p]! + share > pdus[p]!.capacityKw + EPS || this.feedLoad[f]! + host.kw > sourceKw[f]! + EPS) return false;
    }
    for (const p of host.pdus) {
      if (this.pduAlive[p] === 0) continue;
      this.pduLoad[p]! += share;
      this.feedLoad[pdus[p]!.feed]! += share;
    }
    this.hostPowered[h] = 1;
    return true;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
