/**
 * One mailbox's storage quota (a hosting customer's `mailboxQuotaMb`): the bytes of every
 * message in all of its folders, plus deliveries being written. A delivery reserves its size
 * before a byte is written, so two deliveries at once cannot both pass the last free bytes,
 * and a refused one has stored nothing.
 */
export class QuotaExceededError extends Error {
  constructor(
    readonly user: string,
    /** The message that did not fit. */
    readonly bytes: number,
    readonly limitBytes: number,
  ) {
    super(`mailbox ${user} is full: ${bytes} more bytes would pass its quota of ${limitBytes}`);
  }

  /** The message is larger than the whole quota: it can never be delivered. */
  get permanent(): boolean {
    return this.bytes > this.limitBytes;
  }
}

export class Quota {
  private usedBytes = 0;

  constructor(
    readonly user: string,
    /** Infinity: no quota (the datacenter's own users). */
    readonly limitBytes = Number.POSITIVE_INFINITY,
  ) {}

  get used(): number {
    return this.usedBytes;
  }

  fits(bytes: number): boolean {
    return this.usedBytes + bytes <= this.limitBytes;
  }

  /** Takes `bytes` of the quota, or throws QuotaExceededError and takes nothing. */
  reserve(bytes: number): void {
    if (!this.fits(bytes)) throw new QuotaExceededError(this.user, bytes, this.limitBytes);
    this.usedBytes += bytes;
  }

  /** Counts bytes already stored (opening a mailbox) or moved within it (MOVE), whatever the limit. */
  add(bytes: number): void {
    this.usedBytes += bytes;
  }

  release(bytes: number): void {
    this.usedBytes = Math.max(0, this.usedBytes - bytes);
  }
}
