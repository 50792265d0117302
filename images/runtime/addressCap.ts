/**
 * A cap on simultaneous connections per client address, for servers facing the internet:
 * one address (or one compromised container) cannot take every slot. `acquire` returns a
 * release function (idempotent, call it when the connection closes) or undefined when the
 * address is at its cap. Entries go when their count drops to zero, so the table holds at
 * most one entry per open connection.
 */
export class AddressCap {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  acquire(address: string | undefined): (() => void) | undefined {
    const key = address ?? "unknown";
    const count = this.open.get(key) ?? 0;
    if (count >= this.max) return undefined;
    this.open.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }

  /** Open connections of `address` (tests, metrics). */
  count(address: string): number {
    return this.open.get(address) ?? 0;
  }
}
